//! The `hookgate` commands people run against a gateway: endpoints created,
//! disabled, enabled and shown; the delivery and message logs listed with
//! the API's filters and relative times; the dead letter; `deliveries
//! tail` following attempts as they land, of old deliveries too; and a
//! missing token named.

use std::process::Stdio;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, BufReader};

use crate::harness::{ADMIN_TOKEN, TestGateway, TestReceiver, admin_config, eventually};

/// The CLI's command for `gateway`, with the token unless `token` is false.
fn command(gateway: &TestGateway, args: &[&str], token: bool) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_hookgate-it"));
    command.args(args).env("HOOKGATE_URL", &gateway.url);
    command.env_remove("HOOKGATE_ADMIN_TOKEN");
    if token {
        command.env("HOOKGATE_ADMIN_TOKEN", ADMIN_TOKEN);
    }
    command.kill_on_drop(true);
    command
}

/// Runs it to the end: (success, stdout, stderr).
async fn run(gateway: &TestGateway, args: &[&str]) -> (bool, String, String) {
    let out = command(gateway, args, true).output().await.expect("runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

#[tokio::test]
async fn endpoints_and_logs_are_managed_and_read_from_the_command_line() {
    let receiver = TestReceiver::start().await;
    let gateway = TestGateway::start(&admin_config("", "")).await;

    let (ok, out, err) = run(
        &gateway,
        &[
            "endpoints",
            "create",
            "crm",
            &receiver.url,
            "--event-type",
            "call.*",
        ],
    )
    .await;
    assert!(ok, "{err}");
    assert!(
        out.contains("signing secret, shown this once: whsec_"),
        "{out}"
    );
    let (ok, out, err) = run(
        &gateway,
        &["endpoints", "disable", "crm", "--reason", "maintenance"],
    )
    .await;
    assert!(ok && out.contains("crm is disabled"), "{out}{err}");
    let (_, out, _) = run(&gateway, &["endpoints", "show", "crm"]).await;
    let shown: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(shown["disabled"]["reason"], "maintenance", "{shown}");
    assert_eq!(
        shown["signing"]["secrets"][0], "***",
        "no secret shown again"
    );
    let (ok, out, _) = run(&gateway, &["endpoints", "enable", "crm"]).await;
    assert!(ok && out.contains("crm is enabled"), "{out}");

    let (_, reply) = gateway
        .post("calls", r#"{"type":"call.completed"}"#, &[])
        .await;
    let id = reply["id"].as_str().expect("id").to_owned();
    receiver.wait_for(1).await;
    eventually("the delivery is recorded", || async {
        let d = gateway.deliveries("endpoint=crm&status=delivered").await;
        (d.len() == 1).then_some(())
    })
    .await;
    let (ok, out, err) = run(
        &gateway,
        &["deliveries", "list", "--endpoint", "crm", "--since", "1h"],
    )
    .await;
    assert!(ok, "{err}");
    let row = out
        .lines()
        .find(|l| l.starts_with("dlv_"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        row.contains("delivered") && row.contains("HTTP 200") && row.contains(" UTC"),
        "{row}"
    );
    assert!(!out.contains('\u{1b}'), "no colours into a pipe: {out:?}");
    let (_, out, _) = run(&gateway, &["deliveries", "list", "--until", "1h"]).await;
    assert!(
        !out.contains("dlv_"),
        "nothing created over an hour ago: {out}"
    );
    let (_, out, _) = run(&gateway, &["messages", "list", "--status", "routed"]).await;
    assert!(
        out.lines()
            .any(|l| l.starts_with(&id) && l.contains("routed to 1")),
        "{out}"
    );
    let (ok, out, _) = run(&gateway, &["dead-letter", "list"]).await;
    assert!(
        ok && out.contains("dead deliveries") && out.contains("a plugin failed on"),
        "{out}"
    );
    assert!(!out.contains("dlv_"), "nothing is dead: {out}");

    let out = command(&gateway, &["deliveries", "list"], false)
        .output()
        .await
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("--token") && err.contains("HOOKGATE_ADMIN_TOKEN"),
        "{err}"
    );
}

#[tokio::test]
async fn deliveries_tail_prints_each_attempt_as_it_lands() {
    let receiver = TestReceiver::start().await;
    receiver.answer(500);
    let endpoint = format!(
        "[[endpoint]]\nname = \"crm\"\nurl = \"{}\"\nretry = {{ schedule = [\"1h\"] }}\n",
        receiver.url
    );
    let gateway = TestGateway::start(&admin_config("", &endpoint)).await;
    let mut tail = command(&gateway, &["deliveries", "tail", "--endpoint", "crm"], true)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut lines = BufReader::new(tail.stdout.take().expect("stdout")).lines();
    let mut notes = BufReader::new(tail.stderr.take().expect("stderr")).lines();
    let header = lines.next_line().await.expect("reads").expect("a header");
    assert!(header.starts_with("DELIVERY"), "{header}");
    // It says when it has taken its first look; what lands after is news.
    let note = notes.next_line().await.expect("reads").expect("a note");
    assert!(note.starts_with("following"), "{note}");

    gateway
        .post("calls", r#"{"type":"call.completed"}"#, &[])
        .await;
    // Created (pending) and then attempted (retrying): each change is a
    // line, the attempt's with its answer.
    let line = next_line_of(&mut lines, "dlv_", "retrying").await;
    assert!(line.contains("HTTP 500"), "{line}");
    tail.kill().await.expect("stops");
}

/// The next line of `lines` starting with `id` and containing `status`.
async fn next_line_of(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    id: &str,
    status: &str,
) -> String {
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let line = lines.next_line().await.expect("reads").expect("a line");
            if line.starts_with(id) && line.contains(status) {
                return line;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no line for {id} {status} is printed"))
}

#[tokio::test]
async fn deliveries_tail_follows_the_retries_of_deliveries_made_before_it_started() {
    let receiver = TestReceiver::start().await;
    receiver.answer(500);
    let endpoint = format!(
        "[[endpoint]]\nname = \"crm\"\nurl = \"{}\"\nretry = {{ schedule = [\"1h\"] }}\n",
        receiver.url
    );
    let gateway = TestGateway::start(&admin_config("", &endpoint)).await;
    // Two deliveries retrying before the tail starts; the older is not
    // among the newest the tail starts from.
    let mut ids = Vec::new();
    for n in 0..2 {
        let (status, _) = gateway
            .post(
                "calls",
                format!(r#"{{"type":"call.completed","n":{n}}}"#),
                &[],
            )
            .await;
        assert_eq!(status, 202);
        let retrying = eventually("the delivery is retrying", || async {
            let items = gateway.deliveries("status=retrying").await;
            (items.len() == n + 1).then(|| items[0]["id"].as_str().map(str::to_owned))
        })
        .await;
        ids.push(retrying.expect("an id"));
    }
    let older = &ids[0];
    let mut tail = command(&gateway, &["deliveries", "tail"], true)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut lines = BufReader::new(tail.stdout.take().expect("stdout")).lines();
    let mut notes = BufReader::new(tail.stderr.take().expect("stderr")).lines();
    let note = notes.next_line().await.expect("reads").expect("a note");
    assert!(note.starts_with("following"), "{note}");

    // Its retry, due in an hour, is made now and succeeds: news, though
    // the delivery is older than anything the tail has seen arrive.
    receiver.answer(200);
    let (status, body) = gateway
        .admin("POST", &format!("/v1/deliveries/{older}/replay"), None)
        .await;
    assert_eq!(status, 202, "{body}");
    let line = next_line_of(&mut lines, older, "delivered").await;
    assert!(line.contains("HTTP 200"), "{line}");
    tail.kill().await.expect("stops");
}

#[tokio::test]
async fn several_dead_letter_entries_are_replayed_at_once_and_each_one_reports_its_outcome() {
    let receiver = TestReceiver::start().await;
    receiver.answer(500);
    let rest = format!(
        r#"
[[source]]
name = "flaky"

[[plugin]]
name = "bad"
file = "{scripted}"
config = {{ deliver_to = "nope" }}

[[route]]
source = "flaky"
plugins = ["bad"]

[[endpoint]]
name = "crm"
url = "{url}"
event_types = ["call.*"]
retry = {{ max_attempts = 1 }}
"#,
        scripted = crate::harness::wasm("scripted").display(),
        url = receiver.url
    );
    let gateway = TestGateway::start(&admin_config("", &rest)).await;
    for _ in 0..2 {
        gateway
            .post("calls", r#"{"type":"call.completed"}"#, &[])
            .await;
    }
    let (_, failed) = gateway.post("flaky", "{}", &[]).await;
    let failed = failed["id"].as_str().expect("id").to_owned();
    let dead: Vec<String> = eventually("both deliveries are dead", || async {
        let d = gateway.deliveries("status=dead").await;
        (d.len() == 2).then(|| {
            d.iter()
                .map(|d| d["id"].as_str().unwrap_or("").to_owned())
                .collect()
        })
    })
    .await;
    eventually("the plugin fails on the flaky event", || async {
        let (_, m) = gateway
            .admin("GET", &format!("/v1/messages/{failed}"), None)
            .await;
        (m["status"] == "failed").then_some(())
    })
    .await;

    receiver.answer(200);
    let mut args = vec!["dead-letter", "replay"];
    args.extend(dead.iter().map(String::as_str));
    args.push(&failed);
    args.push("dlv_unknown");
    let (ok, out, err) = run(&gateway, &args).await;
    assert!(!ok, "one id was not replayed, so the command fails: {out}");
    assert!(err.contains("1 of 4 not replayed"), "{err}");
    for id in &dead {
        assert!(out.contains(&format!("{id}  replayed")), "{out}");
    }
    assert!(out.contains(&format!("{failed}  replayed")), "{out}");
    assert!(
        out.contains("dlv_unknown  not replayed (not_found)"),
        "{out}"
    );
    receiver.wait_for(4).await;
    eventually("both replays are delivered", || async {
        let d = gateway.deliveries("status=delivered").await;
        (d.len() == 2).then_some(())
    })
    .await;

    // The API itself refuses an empty selection by name.
    let (status, body) = gateway
        .admin(
            "POST",
            "/v1/dead-letter/replay",
            Some(serde_json::json!({"ids": []})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "invalid_field", "{body}");
}
