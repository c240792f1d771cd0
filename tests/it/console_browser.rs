//! The console in a real browser: headless Chromium, driven through
//! chromedriver (Debian's `chromium` and `chromium-driver`; `.ci/run`
//! installs them), against a real gateway. Signs in with the keyboard,
//! finds a failing endpoint on the overview, finds its delivery in the log
//! where an event type holding markup is shown as text and runs nothing,
//! checks a phone's width, signs out and finds the console closed. A step
//! that fails saves a screenshot under the tests' temporary directory.

use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::harness::{ADMIN_TOKEN, TestGateway, TestReceiver, admin_config, eventually};

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
            panic!(
                "step {name} failed: {error:?} (screenshot: {})",
                path.display()
            );
        }
    }
}

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_signs_in_finds_the_failing_endpoint_and_its_delivery_and_signs_out() {
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
    let hostile = r#"<img src=x onerror="window.hacked=1">"#;
    let event = json!({"type": hostile, "data": {"note": "<script>window.hacked=2</script>"}});
    let (status, reply) = gateway.post("calls", event.to_string(), &[]).await;
    assert_eq!(status, 202, "{reply}");
    eventually("the delivery failed once", || async {
        let d = gateway.deliveries("endpoint=crm").await;
        (d.first()?["status"] == "retrying").then_some(())
    })
    .await;

    let driver = Driver::start().await;
    let browser = driver.browser().await;
    let console = format!("{}/console", gateway.url);
    step(&browser, "open", browser.goto(&console).await).await;

    // Sign in with the keyboard alone: the token field has the focus.
    let focused = browser
        .execute("return document.activeElement.id", Vec::new())
        .await;
    assert_eq!(step(&browser, "focus", focused).await, json!("token"));
    let field = step(&browser, "field", browser.find(Locator::Id("token")).await).await;
    let typed = field.send_keys(&format!("{ADMIN_TOKEN}\u{E007}")).await;
    step(&browser, "sign-in", typed).await;

    // The overview marks the failing endpoint.
    let row = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#overview tbody tr.attention"))
        .await;
    let row = step(&browser, "overview", row).await;
    let text = step(&browser, "overview-text", row.text().await).await;
    assert!(text.starts_with("crm failing"), "{text}");

    // The delivery log, filtered to the retrying ones, shows the event type
    // as text; nothing in it ran.
    let link = browser.find(Locator::LinkText("Deliveries")).await;
    step(
        &browser,
        "nav",
        step(&browser, "nav-find", link).await.click().await,
    )
    .await;
    let status = browser
        .find(Locator::Css("#delivery-filters select[name=status]"))
        .await;
    let status = step(&browser, "filter", status).await;
    step(&browser, "filter-set", status.send_keys("retrying").await).await;
    let search = browser.find(Locator::Css("#delivery-filters button")).await;
    step(
        &browser,
        "search",
        step(&browser, "search-find", search).await.click().await,
    )
    .await;
    let cell = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::XPath(&format!(
            "//table[@id='deliveries']//td[text()='{hostile}']"
        )))
        .await;
    step(&browser, "delivery", cell).await;
    let ran = browser
        .execute(
            "return [window.hacked === undefined, document.querySelectorAll('#deliveries img').length]",
            Vec::new(),
        )
        .await;
    assert_eq!(step(&browser, "escaped", ran).await, json!([true, 0]));

    // At a phone's width the page does not overflow sideways.
    step(&browser, "phone", browser.set_window_size(390, 844).await).await;
    let fits = browser
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth",
            Vec::new(),
        )
        .await;
    assert_eq!(step(&browser, "phone-fit", fits).await, json!(true));

    // Signing out closes the console and the API to this browser.
    let out = browser.find(Locator::Css("header form button")).await;
    step(
        &browser,
        "sign-out",
        step(&browser, "sign-out-find", out).await.click().await,
    )
    .await;
    let form = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("token"))
        .await;
    step(&browser, "signed-out", form).await;
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
