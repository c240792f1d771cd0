//! Connection limits over raw sockets: a request head or body sent too
//! slowly, and an idle keep-alive connection, are cut off at their
//! timeouts; past `max_connections` a new connection gets 503 at once.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::harness::TestGateway;

/// The longest a test waits for the server to act on a timeout; the
/// timeouts it sets are a fraction of this.
const PATIENCE: Duration = Duration::from_secs(10);

fn config(server: &str) -> String {
    format!("[server]\n{server}\n[[source]]\nname = \"open\"\n")
}

async fn connect(gateway: &TestGateway) -> TcpStream {
    TcpStream::connect(gateway.url.trim_start_matches("http://"))
        .await
        .expect("connects")
}

/// Reads until the server closes the connection; what it sent.
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut answer))
        .await
        .expect("the server closed the connection")
        .expect("reads");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_request_head_sent_too_slowly_is_cut_off() {
    let gateway = TestGateway::start(&config("header_read_timeout = \"200ms\"")).await;
    let mut stream = connect(&gateway).await;
    stream
        .write_all(b"POST /v1/ingest/open HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("writes");
    let started = tokio::time::Instant::now();
    let answer = until_closed(&mut stream).await;
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(!answer.contains("202"), "{answer}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let gateway = TestGateway::start(&config("header_read_timeout = \"200ms\"")).await;
    let mut stream = connect(&gateway).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("writes");
    let answer = until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn a_body_sent_too_slowly_gets_408_and_nothing_is_stored() {
    let gateway = TestGateway::start(&config("body_read_timeout = \"300ms\"")).await;
    let mut stream = connect(&gateway).await;
    stream
        .write_all(b"POST /v1/ingest/open HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 100\r\n\r\n{")
        .await
        .expect("writes");
    let answer = until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"body_timeout\""), "{answer}");
    assert_eq!(gateway.store().message_count().await.expect("counts"), 0);
}

#[tokio::test]
async fn past_max_connections_a_connection_gets_503_and_health_still_answers_after() {
    let gateway = TestGateway::start(&config("max_connections = 3")).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = connect(&gateway).await;
        // A request on each, so the server has surely accepted it.
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("writes");
        let mut buf = [0u8; 12];
        tokio::time::timeout(PATIENCE, stream.read_exact(&mut buf))
            .await
            .expect("answers")
            .expect("reads");
        assert_eq!(&buf, b"HTTP/1.1 200");
        held.push(stream);
    }
    let mut fourth = connect(&gateway).await;
    let answer = until_closed(&mut fourth).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("\"code\":\"overloaded\""), "{answer}");

    drop(held);
    let health = crate::harness::eventually("a free connection", || async {
        let response = reqwest::get(format!("{}/healthz", gateway.url))
            .await
            .ok()?;
        (response.status() == 200).then_some(())
    })
    .await;
    assert_eq!(health, ());
}
