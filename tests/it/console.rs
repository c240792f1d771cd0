//! The console's shell: sign-in with the admin token gives an `HttpOnly`,
//! `SameSite=Strict` session cookie the API accepts, changes made with it
//! need the console's header (no cross-site request can set it), pages are
//! served under a strict Content-Security-Policy, and sign-out ends it.

use serde_json::json;

use crate::harness::{ADMIN_TOKEN, TestGateway, admin_config};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn sign_in(gateway: &TestGateway, token: &str, origin: Option<&str>) -> reqwest::Response {
    let mut request = client()
        .post(format!("{}/console/session", gateway.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"));
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    request.send().await.expect("answers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_gives_a_strict_session_cookie_the_api_accepts_and_signing_out_ends_it() {
    let gateway = TestGateway::start(&admin_config("", "")).await;
    let page = client()
        .get(format!("{}/console", gateway.url))
        .send()
        .await
        .expect("answers");
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let html = page.text().await.expect("text");
    assert!(html.contains(r#"name="token""#), "the sign-in form: {html}");

    // A wrong token, or a form posted from another site, signs no one in.
    let wrong = sign_in(&gateway, "not-the-token", None).await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());
    let cross = sign_in(&gateway, ADMIN_TOKEN, Some("http://evil.example")).await;
    assert_eq!(cross.status(), 403);
    assert!(cross.headers().get("set-cookie").is_none());

    let signed = sign_in(&gateway, ADMIN_TOKEN, Some(&gateway.url)).await;
    assert_eq!(signed.status(), 303);
    assert_eq!(signed.headers()["location"], "/console");
    let set = signed.headers()["set-cookie"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(part), "{set}");
    }
    assert!(!set.contains("Secure"), "plain HTTP: {set}");
    let cookie = set.split(';').next().expect("name=value").to_owned();

    // The app with the cookie; the API reads with it.
    let app = client()
        .get(format!("{}/console", gateway.url))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("text");
    assert!(app.contains(r#"src="/console/assets/js/app.js""#), "{app}");
    let listed = client()
        .get(format!("{}/v1/endpoints", gateway.url))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("answers");
    assert_eq!(listed.status(), 200);

    // A change needs the console's header as well as the cookie.
    let endpoint = json!({"name": "crm", "url": "http://127.0.0.1:9/hook"});
    let forged = client()
        .post(format!("{}/v1/endpoints", gateway.url))
        .header("cookie", &cookie)
        .json(&endpoint)
        .send()
        .await
        .expect("answers");
    assert_eq!(forged.status(), 403);
    let body: serde_json::Value = forged.json().await.expect("JSON");
    assert_eq!(body["code"], "csrf_required", "{body}");
    let made = client()
        .post(format!("{}/v1/endpoints", gateway.url))
        .header("cookie", &cookie)
        .header("x-hookgate-console", "1")
        .json(&endpoint)
        .send()
        .await
        .expect("answers");
    assert_eq!(made.status(), 201);

    // A cookie altered by hand is refused.
    let (name_expiry, mac) = cookie.split_once('.').expect("expiry.mac");
    let tampered = format!("{name_expiry}9.{mac}");
    let refused = client()
        .get(format!("{}/v1/endpoints", gateway.url))
        .header("cookie", tampered)
        .send()
        .await
        .expect("answers");
    assert_eq!(refused.status(), 401);

    // Sign-out clears the cookie.
    let out = client()
        .post(format!("{}/console/session/end", gateway.url))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("answers");
    assert_eq!(out.status(), 303);
    let cleared = out.headers()["set-cookie"].to_str().expect("ASCII");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");

    // The script is served from the gateway under the same policy.
    let script = client()
        .get(format!("{}/console/assets/js/app.js", gateway.url))
        .send()
        .await
        .expect("answers");
    assert_eq!(script.status(), 200);
    assert!(
        script.headers()["content-type"]
            .to_str()
            .expect("ASCII")
            .starts_with("text/javascript")
    );
    assert!(script.headers().get("content-security-policy").is_some());
}
