//! HTTPS on the listener: a certificate made in the test is served, plain
//! HTTP is not, a renewed certificate is taken up when its files change
//! (no restart), and a key that does not match is refused at start.

use std::path::{Path, PathBuf};

use crate::harness::TestGateway;

/// A self-signed certificate for `127.0.0.1`: (certificate PEM, key PEM).
fn certificate() -> (String, String) {
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])
        .expect("makes a certificate");
    (made.cert.pem(), made.key_pair.serialize_pem())
}

/// Writes the pair where the gateway reads it: (cert path, key path).
fn write(dir: &Path, (cert, key): &(String, String)) -> (PathBuf, PathBuf) {
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    // The key first: a check between the two writes sees a pair that does
    // not match and keeps the certificate in force.
    std::fs::write(&key_path, key).expect("writes the key");
    std::fs::write(&cert_path, cert).expect("writes the certificate");
    (cert_path, key_path)
}

fn config(cert: &Path, key: &Path) -> String {
    format!(
        "[server.tls]\ncert = \"{}\"\nkey = \"{}\"\n\n[[source]]\nname = \"calls\"\n",
        cert.display(),
        key.display()
    )
}

/// A fresh client (no connection reused) trusting only `cert`: the status
/// `GET path` gets, or `None` if the connection or handshake fails.
async fn get(url: &str, cert: &str) -> Option<u16> {
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(cert.as_bytes()).expect("PEM"))
        .build()
        .expect("a client");
    let response = client.get(url).send().await.ok()?;
    Some(response.status().as_u16())
}

#[tokio::test]
async fn the_listener_serves_https_and_takes_up_a_renewed_certificate() {
    let files = tempfile::tempdir().expect("temp dir");
    let first = certificate();
    let (cert, key) = write(files.path(), &first);
    let gateway = TestGateway::start(&config(&cert, &key)).await;
    let https = gateway.url.replacen("http://", "https://", 1);
    let health = format!("{https}/healthz");

    assert_eq!(
        get(&health, &first.0).await,
        Some(200),
        "HTTPS with the certificate"
    );
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(first.0.as_bytes()).expect("PEM"))
        .build()
        .expect("a client");
    let posted = client
        .post(format!("{https}/v1/ingest/calls"))
        .body(r#"{"type":"call.completed"}"#)
        .send()
        .await
        .expect("posts");
    assert_eq!(posted.status(), 202, "ingest over HTTPS");
    let plain = reqwest::get(format!("{}/healthz", gateway.url)).await;
    assert!(
        plain.map_or(true, |r| r.status() != 200),
        "plain HTTP is not served"
    );

    // Renewed in place: new connections get the new certificate.
    let second = certificate();
    assert_eq!(get(&health, &second.0).await, None, "not trusted yet");
    write(files.path(), &second);
    crate::harness::eventually("the renewed certificate is served", || async {
        (get(&health, &second.0).await == Some(200)).then_some(())
    })
    .await;
    assert_eq!(get(&health, &first.0).await, None, "the old one is gone");
}

#[tokio::test]
async fn a_key_that_does_not_match_the_certificate_is_refused_at_start() {
    let files = tempfile::tempdir().expect("temp dir");
    let (cert, _) = certificate();
    let (_, other_key) = certificate();
    let (cert_path, key_path) = write(files.path(), &(cert, other_key));
    let dir = tempfile::tempdir().expect("temp dir");
    let config = hookgate::config::Config::from_toml(
        "test.toml",
        &config(&cert_path, &key_path),
        dir.path(),
    )
    .expect("valid config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let started = hookgate::server::Gateway::start(
        config,
        listener,
        tokio_util::sync::CancellationToken::new(),
    )
    .await;
    let error = started.expect_err("refused").to_string();
    assert!(
        error.contains("key.pem") && error.contains("does not match"),
        "{error}"
    );
}
