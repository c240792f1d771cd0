//! Hostile plugins in a serving gateway, beside normal traffic: a plugin
//! that prints, or one that sleeps past its limit and so keeps the pool
//! busy, never stops another source's messages, and a message that found
//! no free slot is retried rather than dead-lettered.

use hookgate::store::MessageStatus;

use crate::harness::{TestGateway, TestReceiver, eventually, wasm};

fn config(receiver: &TestReceiver, plugin_host: &str) -> String {
    format!(
        r#"
[server.targets]
allow_http = true
allow_loopback = true

{plugin_host}

[[source]]
name = "noisy"
event_type = {{ pointer = "/case" }}

[[source]]
name = "plain"

[[plugin]]
name = "blocking"
file = "{plugin}"

[[route]]
source = "noisy"
plugins = ["blocking"]

[[endpoint]]
name = "receiver"
url = "{url}"
event_types = ["*"]
"#,
        plugin = wasm("blocking-wasi").display(),
        url = receiver.url,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_that_prints_does_not_stop_the_pipeline() {
    let receiver = TestReceiver::start().await;
    let gateway = TestGateway::start(&config(&receiver, "")).await;
    for n in 0..400 {
        let (status, _) = gateway
            .post("noisy", format!(r#"{{"case":"print","n":{n}}}"#), &[])
            .await;
        assert_eq!(status, 202);
    }
    for n in 0..20 {
        let (status, _) = gateway.post("plain", format!(r#"{{"n":{n}}}"#), &[]).await;
        assert_eq!(status, 202);
    }
    let received = receiver.wait_for(420).await;
    assert_eq!(received.len(), 420);
    let store = gateway.store();
    assert_eq!(store.pipeline_count().await.expect("counts"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_finds_no_free_slot_is_retried_not_dead_lettered() {
    let receiver = TestReceiver::start().await;
    // One slot, and a queue timeout far shorter than the sleeper holds it.
    let plugin_host = "[plugin_host]\npool_size = 1\nqueue_timeout = \"1ms\"\n";
    let gateway = TestGateway::start(&config(&receiver, plugin_host)).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let (status, json) = gateway
            .post("noisy", format!(r#"{{"case":"sleep","n":{n}}}"#), &[])
            .await;
        assert_eq!(status, 202);
        ids.push(json["id"].as_str().expect("id").to_owned());
    }
    let (status, _) = gateway.post("plain", "{}", &[]).await;
    assert_eq!(status, 202);
    receiver.wait_for(1).await;
    let store = gateway.store();
    eventually("every sleeper to run to its limit", || async {
        (store.pipeline_count().await.expect("counts") == 0).then_some(())
    })
    .await;
    for id in &ids {
        let message = store.message(id).await.expect("reads").expect("stored");
        match message.status {
            MessageStatus::Failed { kind, .. } => assert_eq!(kind, "timeout", "{id}"),
            other => panic!("{id}: expected a timeout, got {other:?}"),
        }
    }
}
