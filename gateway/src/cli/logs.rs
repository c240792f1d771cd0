//! The commands that read a running gateway's logs: `deliveries list`,
//! `deliveries tail` (in `tail.rs`), `dead-letter list`
//! and `messages list`. Times are shown as UTC and taken as RFC 3339, Unix
//! milliseconds or a time ago (`--since 1h`); rows are cut to the
//! terminal's width when the output is a terminal.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "printing the answer is what these commands do"
)]

use std::io::IsTerminal as _;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::args::{readable_time, time};
use super::remote::{Remote, call, print_json};

/// The delivery log's filters, as the API takes them.
#[derive(Debug, Clone, Args)]
pub struct DeliveryFilters {
    /// Only to this endpoint.
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Only of this event type.
    #[arg(long)]
    pub event_type: Option<String>,
    /// Only in this status: pending, retrying, delivered, dead or skipped.
    #[arg(long)]
    pub status: Option<String>,
    /// Only those whose last attempt got this HTTP status.
    #[arg(long)]
    pub response_code: Option<u16>,
    /// The time range and page size.
    #[command(flatten)]
    pub window: Window,
}

/// A log's time range (created or received) and how many rows to show.
#[derive(Debug, Clone, Args)]
pub struct Window {
    /// At or after: RFC 3339, Unix ms, or a time ago (`1h`, `30m`).
    #[arg(long, value_parser = time)]
    pub since: Option<String>,
    /// Before: RFC 3339, Unix ms, or a time ago.
    #[arg(long, value_parser = time)]
    pub until: Option<String>,
    /// How many rows at most.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

impl Window {
    /// The API query: the window, then the filters given.
    fn query<const N: usize>(
        &self,
        filters: [(&'static str, Option<String>); N],
    ) -> Vec<(&'static str, String)> {
        let mut query = vec![("limit", self.limit.clamp(1, 500).to_string())];
        let window = [("since", self.since.clone()), ("until", self.until.clone())];
        query.extend(
            window
                .into_iter()
                .chain(filters)
                .filter_map(|(k, v)| Some((k, v?))),
        );
        query
    }
}

impl DeliveryFilters {
    fn query(&self) -> Vec<(&'static str, String)> {
        self.window.query([
            ("endpoint", self.endpoint.clone()),
            ("event_type", self.event_type.clone()),
            ("status", self.status.clone()),
            ("response_code", self.response_code.map(|c| c.to_string())),
        ])
    }
}

/// `hookgate deliveries ...`.
#[derive(Debug, Subcommand)]
pub enum DeliveriesCommand {
    /// The delivery log, newest first.
    List {
        /// Which deliveries.
        #[command(flatten)]
        filters: DeliveryFilters,
        /// The gateway.
        #[command(flatten)]
        remote: Remote,
    },
    /// Follows the delivery log: prints each attempt as it is recorded,
    /// until interrupted.
    Tail {
        /// Which deliveries.
        #[command(flatten)]
        filters: DeliveryFilters,
        /// The gateway.
        #[command(flatten)]
        remote: Remote,
    },
}

/// `hookgate dead-letter ...`.
#[derive(Debug, Subcommand)]
pub enum DeadLetterCommand {
    /// Deliveries given up on, newest first, and the messages a plugin
    /// failed on.
    List {
        /// Only to this endpoint.
        #[arg(long)]
        endpoint: Option<String>,
        /// How many rows of each at most.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// The gateway.
        #[command(flatten)]
        remote: Remote,
    },
    /// Replays several entries at once: delivery ids are sent again,
    /// plugin-failed message ids run through their chain again.
    Replay {
        /// `dlv_...` and `msg_...` ids, 1 to 500.
        #[arg(required = true, num_args = 1..=500)]
        ids: Vec<String>,
        /// The gateway.
        #[command(flatten)]
        remote: Remote,
    },
}

/// The message log's filters, as the API takes them.
#[derive(Debug, Clone, Args)]
pub struct MessageFilters {
    /// Only from this source.
    #[arg(long)]
    pub source: Option<String>,
    /// Only of this event type (`call.*` matches a family).
    #[arg(long)]
    pub event_type: Option<String>,
    /// Only in this status: pending, dropped, failed or routed.
    #[arg(long)]
    pub status: Option<String>,
    /// The time range and page size.
    #[command(flatten)]
    pub window: Window,
}

/// `hookgate deliveries`.
pub(super) async fn deliveries(command: DeliveriesCommand) -> anyhow::Result<()> {
    match command {
        DeliveriesCommand::List { filters, remote } => {
            let page = get(&remote, "/v1/deliveries", &filters.query()).await?;
            if remote.json {
                print_json(&page["items"]);
                return Ok(());
            }
            print_rows(DELIVERY_HEADER, page_rows(&page, delivery_row));
            Ok(())
        }
        DeliveriesCommand::Tail { filters, remote } => super::tail::tail(&filters, &remote).await,
    }
}

/// `hookgate dead-letter list|replay`.
pub(super) async fn dead_letter(command: DeadLetterCommand) -> anyhow::Result<()> {
    let (endpoint, limit, remote) = match command {
        DeadLetterCommand::List {
            endpoint,
            limit,
            remote,
        } => (endpoint, limit, remote),
        DeadLetterCommand::Replay { ids, remote } => return replay(ids, &remote).await,
    };
    let mut query = vec![("limit", limit.clamp(1, 500).to_string())];
    query.extend(endpoint.map(|e| ("endpoint", e)));
    let dead = get(&remote, "/v1/dead-letter", &query).await?;
    let failed_query = [
        ("status", "failed".to_owned()),
        ("limit", limit.clamp(1, 500).to_string()),
    ];
    let failed = get(&remote, "/v1/messages", &failed_query).await?;
    if remote.json {
        print_json(&json!({"deliveries": dead["items"], "plugin_failed": failed["items"]}));
        return Ok(());
    }
    println!("dead deliveries (replay: hookgate dead-letter replay DLV_ID...)");
    print_rows(DELIVERY_HEADER, page_rows(&dead, delivery_row));
    println!();
    println!("messages a plugin failed on (run again: hookgate dead-letter replay MSG_ID...)");
    print_rows(MESSAGE_HEADER, page_rows(&failed, message_row));
    Ok(())
}

/// `hookgate dead-letter replay`: one line per id; fails if any was not
/// replayed.
async fn replay(ids: Vec<String>, remote: &Remote) -> anyhow::Result<()> {
    let body = json!({ "ids": ids }).to_string();
    let answer = call(
        remote,
        reqwest::Method::POST,
        "/v1/dead-letter/replay",
        Some(body.into()),
        &[],
    )
    .await?;
    if remote.json {
        print_json(&answer);
    } else {
        for result in answer["results"].as_array().cloned().unwrap_or_default() {
            match result["replayed"].as_bool() {
                Some(true) => println!("{}  replayed", text(&result["id"])),
                _ => println!(
                    "{}  not replayed ({}): {}",
                    text(&result["id"]),
                    text(&result["code"]),
                    text(&result["message"])
                ),
            }
        }
    }
    let results = answer["results"].as_array().map_or(0, Vec::len);
    let replayed = answer["replayed"].as_u64().unwrap_or(0);
    if replayed < results as u64 {
        anyhow::bail!("{} of {results} not replayed", results as u64 - replayed);
    }
    Ok(())
}

/// `hookgate messages list`.
pub(super) async fn list_messages(filters: MessageFilters, remote: Remote) -> anyhow::Result<()> {
    let query = filters.window.query([
        ("source", filters.source),
        ("event_type", filters.event_type),
        ("status", filters.status),
    ]);
    let page = get(&remote, "/v1/messages", &query).await?;
    if remote.json {
        print_json(&page["items"]);
        return Ok(());
    }
    print_rows(MESSAGE_HEADER, page_rows(&page, message_row));
    Ok(())
}

pub(super) async fn get(
    remote: &Remote,
    path: &str,
    query: &[(&str, String)],
) -> anyhow::Result<Value> {
    call(remote, reqwest::Method::GET, path, None, query).await
}

pub(super) const DELIVERY_HEADER: [&str; 7] = [
    "DELIVERY",
    "CREATED",
    "ENDPOINT",
    "EVENT TYPE",
    "STATUS",
    "TRIES",
    "LAST",
];

pub(super) fn delivery_row(d: &Value) -> Vec<String> {
    let last = match (d["last_status"].as_u64(), d["dead_reason"].as_str()) {
        (_, Some(reason)) => reason.to_owned(),
        (Some(code), None) => format!("HTTP {code}"),
        (None, None) => match d["skipped"]["plugin"].as_str() {
            Some(plugin) => format!("dropped by {plugin}: {}", text(&d["skipped"]["reason"])),
            None => "-".to_owned(),
        },
    };
    let status = d["status"].as_str().unwrap_or("?");
    let status = if d["test"] == true {
        format!("{status} (test)")
    } else {
        status.to_owned()
    };
    vec![
        text(&d["id"]),
        created(&d["id"]),
        text(&d["endpoint"]),
        text(&d["event_type"]),
        status,
        d["attempt_count"].to_string(),
        last,
    ]
}

const MESSAGE_HEADER: [&str; 5] = ["MESSAGE", "RECEIVED", "SOURCE", "EVENT TYPE", "OUTCOME"];

fn message_row(m: &Value) -> Vec<String> {
    let outcome = &m["outcome"];
    let summary = match outcome["status"].as_str() {
        Some("routed") => format!("routed to {}", outcome["deliveries"]),
        Some("dropped") => format!("dropped by {}", text(&outcome["plugin"])),
        Some("answered") => format!("answered {}", outcome["response"]["status"]),
        Some("failed") => format!(
            "failed in {} ({})",
            text(&outcome["plugin"]),
            text(&outcome["kind"])
        ),
        Some(other) => other.to_owned(),
        None => "pending".to_owned(),
    };
    vec![
        text(&m["id"]),
        m["received_at"]
            .as_u64()
            .map_or_else(|| "?".into(), readable_time),
        text(&m["source"]),
        text(&m["event_type"]),
        summary,
    ]
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or("?").to_owned()
}

/// When an id (`dlv_` + a ULID) was made, from its ULID's time.
fn created(id: &Value) -> String {
    created_millis(id).map_or_else(|| "?".into(), readable_time)
}

/// When an id (`dlv_` + a ULID) was made, in Unix ms.
pub(super) fn created_millis(id: &Value) -> Option<u64> {
    id.as_str()
        .and_then(|id| id.split_once('_'))
        .and_then(|(_, ulid)| ulid::Ulid::from_string(ulid).ok())
        .map(|ulid| ulid.timestamp_ms())
}

fn page_rows(page: &Value, row: fn(&Value) -> Vec<String>) -> Vec<Vec<String>> {
    page["items"]
        .as_array()
        .map(|items| items.iter().map(row).collect())
        .unwrap_or_default()
}

/// The widths the columns get: each as wide as its widest cell, the last
/// cut so a row fits the terminal (when the output is one).
fn widths(rows: &[Vec<String>]) -> Vec<usize> {
    let columns = rows.first().map_or(0, Vec::len);
    (0..columns)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect()
}

fn terminal_width() -> Option<usize> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    terminal_size::terminal_size().map(|(width, _)| usize::from(width.0))
}

pub(super) fn print_rows(header: impl IntoIterator<Item = &'static str>, rows: Vec<Vec<String>>) {
    let header: Vec<String> = header.into_iter().map(str::to_owned).collect();
    let mut all = vec![header];
    all.extend(rows);
    print_rows_only(all);
}

pub(super) fn print_rows_only(rows: Vec<Vec<String>>) {
    let widths = widths(&rows);
    for row in &rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        println!("{}", fit(&line, terminal_width()));
    }
}

/// `line` cut to `width` characters, ending in `…` when cut.
fn fit(line: &str, width: Option<usize>) -> String {
    match width {
        Some(width) if width > 1 && line.chars().count() > width => {
            let mut cut: String = line.chars().take(width - 1).collect();
            cut.push('…');
            cut
        }
        _ => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_is_cut_to_the_terminal_and_left_alone_elsewhere() {
        assert_eq!(fit("abcdef", Some(4)), "abc…");
        assert_eq!(fit("abcdef", Some(6)), "abcdef");
        assert_eq!(fit("abcdef", None), "abcdef");
    }

    #[test]
    fn a_delivery_row_shows_its_creation_time_and_last_answer() {
        let id = ulid::Ulid::from_parts(1_764_770_400_000, 7);
        let row = delivery_row(&json!({
            "id": format!("dlv_{id}"), "endpoint": "crm", "event_type": "call.completed",
            "status": "dead", "attempt_count": 3, "last_status": 500,
            "dead_reason": null, "test": true,
        }));
        assert_eq!(row[1], "2025-12-03 14:00:00 UTC");
        assert_eq!(row[4], "dead (test)");
        assert_eq!(row[6], "HTTP 500");
    }
}
