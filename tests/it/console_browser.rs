//! The console in a real browser: headless Chromium, driven through
//! chromedriver (Debian's `chromium` and `chromium-driver`; `.ci/run`
//! installs them), against a real gateway with real plugins. One operator
//! signs in with the keyboard, finds the failing endpoint and its delivery
//! by filters, opens the event (its plugin step and attempts, markup shown
//! as text and run nowhere), replays it once the receiver recovers, and
//! signs out; another creates endpoints (an invalid URL's error beside its
//! field, a new secret shown once), deploys a plugin version and rolls it
//! back, and checks every page at 1280 px and at a phone's width and by
//! keyboard. A step that fails saves a screenshot under the tests'
//! temporary directory.

use std::process::Stdio;
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::harness::{ADMIN_TOKEN, TestGateway, TestReceiver, admin_config, eventually, wasm};

/// A chromedriver on a free loopback port, stopped when dropped.
struct Driver {
    url: String,
    _process: tokio::process::Child,
}

impl Driver {
    async fn start() -> Self {
        let binary = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect(
                "the console tests need Chromium and chromedriver: \
                 apt-get install chromium chromium-driver (.ci/run installs them)",
            );
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            probe.local_addr().expect("address").port()
        };
        let process = tokio::process::Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        let status = format!("{url}/status");
        eventually("chromedriver answers", || async {
            let ready = reqwest::get(&status)
                .await
                .ok()?
                .json::<Value>()
                .await
                .ok()?;
            (ready["value"]["ready"] == true).then_some(())
        })
        .await;
        Self {
            url,
            _process: process,
        }
    }

    async fn browser(&self) -> Client {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,900"],
            }),
        );
        let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
        connector.enforce_http(true);
        ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("a browser session")
    }
}

/// The result of a step, or a screenshot of the page and a panic.
async fn step<T, E: std::fmt::Debug>(browser: &Client, name: &str, result: Result<T, E>) -> T {
    match result {
        Ok(value) => value,
        Err(error) => {
            let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("console-{name}.png"));
            if let Ok(png) = browser.screenshot().await {
                let _ = std::fs::write(&path, png);
            }
            let text = browser
                .execute("return document.body.innerText", Vec::new())
                .await
                .unwrap_or_default();
            panic!(
                "step {name} failed: {error:?} (screenshot: {}); the page reads: {text}",
                path.display()
            );
        }
    }
}

const WAIT: Duration = Duration::from_secs(15);

/// Waits for an element, or fails the step.
async fn wait_for(browser: &Client, name: &str, locator: Locator<'_>) -> Element {
    let found = browser.wait().at_most(WAIT).for_element(locator).await;
    step(browser, name, found).await
}

/// Whether an error is WebDriver's "stale element": the page replaced the
/// element between finding it and using it (the live pages reload their
/// results), so the step finds it again.
fn stale(error: &fantoccini::error::CmdError) -> bool {
    error.is_stale_element_reference()
}

/// Clicks an element once it is there.
async fn click(browser: &Client, name: &str, locator: Locator<'_>) {
    let mut tries = 0;
    loop {
        let element = wait_for(browser, name, locator).await;
        match element.click().await {
            Err(e) if stale(&e) && tries < 3 => tries += 1,
            done => return step(browser, name, done).await,
        }
    }
}

/// Waits for the element `xpath` finds (a condition on its text goes in
/// the path), or fails the step; its text.
async fn wait_xpath(browser: &Client, name: &str, xpath: &str) -> String {
    let mut tries = 0;
    loop {
        let element = wait_for(browser, name, Locator::XPath(xpath)).await;
        match element.text().await {
            Err(e) if stale(&e) && tries < 3 => tries += 1,
            done => return step(browser, name, done).await,
        }
    }
}

/// The path of the element with `class` (among others) under `scope`.
fn class(scope: &str, class: &str) -> String {
    format!("{scope}[contains(concat(' ', normalize-space(@class), ' '), ' {class} ')]")
}

/// With `HOOKGATE_CONSOLE_SCREENSHOTS` set to a directory, saves the page
/// there as `name.png`: how the README's screenshots under `docs/` are
/// made (`HOOKGATE_CONSOLE_SCREENSHOTS=$PWD/docs cargo test -p
/// hookgate-tests --test it console_browser`).
async fn keep_screenshot(browser: &Client, name: &str) {
    if let Some(dir) = std::env::var_os("HOOKGATE_CONSOLE_SCREENSHOTS") {
        let png = step(browser, name, browser.screenshot().await).await;
        let path = std::path::Path::new(&dir).join(format!("{name}.png"));
        std::fs::write(&path, png)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }
}

/// Runs a script on the page.
async fn script(browser: &Client, name: &str, code: &str) -> Value {
    step(browser, name, browser.execute(code, Vec::new()).await).await
}

/// Signs in through the form with the keyboard alone (the token field has
/// the focus).
async fn sign_in(browser: &Client, console: &str) {
    step(browser, "open", browser.goto(console).await).await;
    let focused = script(browser, "focus", "return document.activeElement.id").await;
    assert_eq!(focused, json!("token"));
    let field = wait_for(browser, "field", Locator::Id("token")).await;
    let typed = field.send_keys(&format!("{ADMIN_TOKEN}\u{E007}")).await;
    step(browser, "sign-in", typed).await;
    wait_for(browser, "signed-in", Locator::Css("header nav")).await;
}

/// Opens a page of the console and waits for its heading.
async fn open(browser: &Client, console: &str, hash: &str, heading: &str) {
    let name = format!("open-{hash}");
    step(
        browser,
        &name,
        browser.goto(&format!("{console}#{hash}")).await,
    )
    .await;
    step(browser, &name, browser.refresh().await).await;
    wait_xpath(
        browser,
        &name,
        &format!("//main/h2[starts-with(., '{heading}')]"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_finds_a_failed_delivery_sees_its_event_and_replays_it_once_the_receiver_recovers()
 {
    let receiver = TestReceiver::start().await;
    receiver.answer(500);
    let extra = format!(
        r#"
[[endpoint]]
name = "crm"
url = "{url}"
retry = {{ schedule = ["1h"] }}
"#,
        url = receiver.url,
    );
    let gateway = TestGateway::start(&admin_config("", &extra)).await;
    let (status, _) = gateway
        .deploy(
            "stamp",
            &wasm("scripted"),
            &[("stamp", "v1"), ("log_lines", "1")],
        )
        .await;
    assert_eq!(status, 200);
    let (status, route) = gateway
        .admin(
            "POST",
            "/v1/routes",
            Some(json!({"source": "calls", "plugins": ["stamp"]})),
        )
        .await;
    assert_eq!(status, 201, "{route}");
    let hostile = r#"<img src=x onerror="window.hacked=1">"#;
    let event = json!({"type": hostile, "data": {"note": "<script>window.hacked=2</script>"}});
    let (status, reply) = gateway
        .post(
            "calls",
            event.to_string(),
            &[("x-note", "<b onmouseover=\"window.hacked=3\">bold</b>")],
        )
        .await;
    assert_eq!(status, 202, "{reply}");
    let message = reply["id"].as_str().expect("id").to_owned();
    eventually("the delivery failed once", || async {
        let d = gateway.deliveries("endpoint=crm").await;
        (d.first()?["status"] == "retrying").then_some(())
    })
    .await;

    let driver = Driver::start().await;
    let browser = driver.browser().await;
    let console = format!("{}/console", gateway.url);
    sign_in(&browser, &console).await;

    // The overview marks the failing endpoint.
    let text = wait_xpath(
        &browser,
        "overview",
        &class("//table[@id='overview']/tbody/tr", "attention"),
    )
    .await;
    assert!(text.starts_with("crm failing"), "{text}");
    keep_screenshot(&browser, "console-overview").await;

    // The delivery log, filtered to the endpoint's 5xx answers, shows the
    // event type as text; nothing in it ran.
    click(&browser, "nav", Locator::LinkText("Deliveries")).await;
    let code = wait_for(
        &browser,
        "filter",
        Locator::Css("#delivery-filters input[name=response_code]"),
    )
    .await;
    step(&browser, "filter-set", code.send_keys("5xx").await).await;
    click(&browser, "search", Locator::Css("#delivery-filters button")).await;
    wait_for(
        &browser,
        "delivery",
        Locator::XPath(&format!(
            "//table[@id='deliveries']//td[text()='{hostile}']"
        )),
    )
    .await;
    let hash = script(&browser, "filtered", "return window.location.hash").await;
    assert_eq!(hash, json!("#deliveries?response_code=5xx"));

    // The event: what arrived, the plugin step, the failed attempt.
    click(&browser, "event", Locator::LinkText(&message)).await;
    wait_xpath(
        &browser,
        "event-page",
        &format!("//main/h2[. = 'Event {message}']"),
    )
    .await;
    let chain = wait_xpath(&browser, "chain", &class("//ol", "chain")).await;
    assert!(
        chain.starts_with("stamp: continued, ")
            && chain.contains("rewrote the body (")
            && chain.contains("info log: line 00000"),
        "{chain}"
    );
    let outcome = wait_xpath(&browser, "outcome", &class("//div", "outcome")).await;
    assert!(
        outcome.contains("rewrote the payload") && outcome.contains("\"v1\""),
        "{outcome}"
    );
    let payload = wait_xpath(&browser, "payload", &class("//pre", "payload")).await;
    assert!(
        payload.contains("<script>window.hacked=2</script>"),
        "{payload}"
    );
    let headers = wait_xpath(&browser, "headers", &class("//dl", "headers")).await;
    assert!(headers.contains("<b onmouseover"), "{headers}");
    let attempt = wait_xpath(
        &browser,
        "attempt",
        &format!("{}//tbody/tr", class("//section", "delivery")),
    )
    .await;
    assert!(attempt.contains("500"), "{attempt}");
    let ran = script(
        &browser,
        "escaped",
        "return [window.hacked === undefined, document.querySelectorAll('main img, main script, main b').length]",
    )
    .await;
    assert_eq!(ran, json!([true, 0]));
    keep_screenshot(&browser, "console-event").await;

    // The receiver recovers; a replay from the event's page delivers it.
    receiver.answer(200);
    click(
        &browser,
        "replay",
        Locator::Css("section.delivery button.replay"),
    )
    .await;
    wait_xpath(
        &browser,
        "replayed",
        &format!(
            "{}/h4[. = 'crm: delivered']",
            class("//section", "delivery")
        ),
    )
    .await;
    let said = wait_xpath(
        &browser,
        "replay-note",
        &format!("{}[starts-with(., 'Replayed')]", class("//main/p", "note")),
    )
    .await;
    assert!(said.contains("delivered"), "{said}");
    receiver.wait_for(2).await;

    // Signing out closes the console and the API to this browser.
    click(&browser, "sign-out", Locator::Css("header form button")).await;
    wait_for(&browser, "signed-out", Locator::Id("token")).await;
    step(&browser, "reopen", browser.goto(&console).await).await;
    step(&browser, "closed", browser.find(Locator::Id("token")).await).await;
    let api = browser
        .execute_async(
            "const done = arguments[0]; fetch('/v1/endpoints').then(r => done(r.status))",
            Vec::new(),
        )
        .await;
    assert_eq!(step(&browser, "api-closed", api).await, json!(401));
    let _ = browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_manages_endpoints_and_plugins_on_pages_that_fit_a_phone_and_the_keyboard() {
    let receiver = TestReceiver::start().await;
    let gateway = TestGateway::start(&admin_config("", "")).await;
    let (status, reply) = gateway
        .post("calls", r#"{"type":"call.completed"}"#.to_owned(), &[])
        .await;
    assert_eq!(status, 202, "{reply}");
    let message = reply["id"].as_str().expect("id").to_owned();
    let driver = Driver::start().await;
    let browser = driver.browser().await;
    let console = format!("{}/console", gateway.url);
    sign_in(&browser, &console).await;

    // An invalid URL: the API's error shows beside the URL field.
    open(&browser, &console, "endpoints/new", "New endpoint").await;
    let name = wait_for(
        &browser,
        "name",
        Locator::Css("#endpoint-form input[name=name]"),
    )
    .await;
    step(&browser, "name-set", name.send_keys("billing").await).await;
    let url = wait_for(
        &browser,
        "url",
        Locator::Css("#endpoint-form input[name=url]"),
    )
    .await;
    step(
        &browser,
        "url-set",
        url.send_keys("ftp://127.0.0.1/hook").await,
    )
    .await;
    click(
        &browser,
        "create",
        Locator::Css("#endpoint-form button[type=submit]"),
    )
    .await;
    let error = wait_xpath(
        &browser,
        "url-error",
        "//p[@id='field-url-error'][normalize-space(.) != '']",
    )
    .await;
    assert!(error.contains("http:// or https://"), "{error}");
    let invalid = script(&browser, "invalid", "return document.activeElement.name + ' ' + document.activeElement.getAttribute('aria-invalid')").await;
    assert_eq!(invalid, json!("url true"));

    // Corrected, it is created; its new secret is shown this once.
    step(&browser, "url-clear", url.clear().await).await;
    step(&browser, "url-fix", url.send_keys(&receiver.url).await).await;
    click(
        &browser,
        "create-again",
        Locator::Css("#endpoint-form button[type=submit]"),
    )
    .await;
    let secret = wait_xpath(
        &browser,
        "secret",
        "//code[@id='new-secret'][starts-with(., 'whsec_')]",
    )
    .await;
    open(&browser, &console, "endpoints/billing", "Endpoint billing").await;
    let page = script(&browser, "secret-gone", "return document.body.innerText").await;
    assert!(
        !page.as_str().expect("text").contains(&secret),
        "the secret is shown once"
    );

    // A test event with a provider's sample reaches the receiver.
    let sample = wait_for(&browser, "sample", Locator::Css("#test-sample")).await;
    step(&browser, "sample-pick", sample.select_by_index(1).await).await;
    click(&browser, "test", Locator::Css("#test-form button")).await;
    let result = wait_xpath(
        &browser,
        "test-result",
        "//div[@id='test-result'][starts-with(normalize-space(.), 'Delivered')]",
    )
    .await;
    assert!(result.contains("status 200"), "{result}");
    receiver.wait_for(1).await;

    // Deploy a plugin by uploading its component, then a second version,
    // then roll back to the first.
    let component = wasm("scripted");
    let component = component.to_str().expect("a UTF-8 path");
    open(&browser, &console, "plugins", "Plugins").await;
    let name = wait_for(
        &browser,
        "plugin-name",
        Locator::Css("#deploy-form input[name=name]"),
    )
    .await;
    step(&browser, "plugin-name-set", name.send_keys("stamp").await).await;
    let file = wait_for(
        &browser,
        "file",
        Locator::Css("#deploy-form input[type=file]"),
    )
    .await;
    step(&browser, "file-set", file.send_keys(component).await).await;
    click(&browser, "deploy", Locator::Css("#deploy-form button")).await;
    wait_xpath(&browser, "deployed", "//dd[@id='running-version'][. = '1']").await;
    let file = wait_for(
        &browser,
        "file-2",
        Locator::Css("#deploy-form input[type=file]"),
    )
    .await;
    step(&browser, "file-2-set", file.send_keys(component).await).await;
    click(&browser, "deploy-2", Locator::Css("#deploy-form button")).await;
    wait_xpath(
        &browser,
        "deployed-2",
        "//dd[@id='running-version'][. = '2']",
    )
    .await;
    click(&browser, "rollback", Locator::Css("button.rollback")).await;
    wait_xpath(
        &browser,
        "rolled-back",
        &format!(
            "{}[starts-with(., 'Rolled back')]",
            class("//main/p", "note")
        ),
    )
    .await;
    let (_, plugin) = gateway.admin("GET", "/v1/plugins/stamp", None).await;
    let versions = plugin["versions"].as_array().expect("versions");
    assert_eq!(plugin["hash"], versions[0]["hash"], "{plugin}");

    // A refused component is shown as the host refuses it.
    open(&browser, &console, "plugins/stamp", "Plugin stamp").await;
    let junk = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-junk.wasm");
    std::fs::write(&junk, b"not a component").expect("writes");
    let file = wait_for(
        &browser,
        "junk",
        Locator::Css("#deploy-form input[type=file]"),
    )
    .await;
    step(
        &browser,
        "junk-set",
        file.send_keys(junk.to_str().expect("UTF-8")).await,
    )
    .await;
    click(&browser, "junk-deploy", Locator::Css("#deploy-form button")).await;
    let refused = wait_xpath(
        &browser,
        "refused",
        &format!(
            "{}[@role='alert'][normalize-space(.) != '']",
            class("//main/p", "note")
        ),
    )
    .await;
    assert!(refused.contains("invalid_plugin"), "{refused}");

    // Every page fits 1280 px and a phone's width without sideways scroll.
    let pages = [
        ("overview", "Overview"),
        ("events", "Events"),
        (&*format!("event/{message}"), "Event msg_"),
        ("deliveries", "Deliveries"),
        ("dead-letter", "Dead letter"),
        ("endpoints", "Endpoints"),
        ("endpoints/billing", "Endpoint billing"),
        ("plugins", "Plugins"),
        ("plugins/stamp", "Plugin stamp"),
        ("sources", "Sources and routes"),
    ];
    for (width, height) in [(1280, 900), (390, 844)] {
        step(
            &browser,
            "resize",
            browser.set_window_size(width, height).await,
        )
        .await;
        for (hash, heading) in pages {
            open(&browser, &console, hash, heading).await;
            let fits = script(
                &browser,
                &format!("fit-{width}-{hash}"),
                "return document.documentElement.scrollWidth <= window.innerWidth",
            )
            .await;
            assert_eq!(fits, json!(true), "{hash} at {width} px");
        }
    }

    // By keyboard: Tab moves through the navigation, Enter opens a page and
    // puts the focus on its heading.
    step(&browser, "wide", browser.set_window_size(1280, 900).await).await;
    open(&browser, &console, "overview", "Overview").await;
    script(
        &browser,
        "focus-nav",
        "document.querySelector('header nav a').focus()",
    )
    .await;
    let active = step(&browser, "active", browser.active_element().await).await;
    step(&browser, "tab", active.send_keys("\u{E004}").await).await;
    let now = script(
        &browser,
        "tabbed",
        "return document.activeElement.textContent",
    )
    .await;
    assert_eq!(now, json!("Events"));
    let active = step(&browser, "active-2", browser.active_element().await).await;
    step(&browser, "enter", active.send_keys("\u{E007}").await).await;
    wait_xpath(&browser, "events-page", "//main/h2[. = 'Events']").await;
    let focus = script(
        &browser,
        "heading-focus",
        "return document.activeElement.tagName",
    )
    .await;
    assert_eq!(focus, json!("H2"));
    let _ = browser.close().await;
}
