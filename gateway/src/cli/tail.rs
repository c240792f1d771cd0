//! `hookgate deliveries tail`: follows the delivery log, printing each
//! delivery whose attempts or status changed since the last look, however
//! old the delivery is.
//!
//! A look reads three things: the deliveries created since the newest one
//! seen (new ones); every delivery still pending or retrying, whatever its
//! age (so a retry of a delivery made hours ago is news too); and, once,
//! each delivery that left those lists since the last look (its last
//! attempt delivered it or gave up). The endpoint, event-type and `until`
//! filters go to the API; the status and response-code filters are applied
//! to what changed, so a delivery followed while retrying is still shown
//! when it reaches the status asked for.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "printing the log is what this command does"
)]

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::Value;

use super::logs::{DELIVERY_HEADER, DeliveryFilters, created_millis, delivery_row, get};
use super::logs::{print_rows, print_rows_only};
use super::remote::{Remote, call};

/// How often the log is looked at.
const EVERY: Duration = Duration::from_millis(500);
/// Rows asked for per page.
const PAGE: usize = 500;
/// Pages of unfinished deliveries read per look, per status: past this
/// many (10,000), the oldest are not followed, and a note says so.
const MAX_PAGES: usize = 20;
/// The statuses a delivery can still change from.
const UNFINISHED: [&str; 2] = ["pending", "retrying"];

/// What was last seen of a delivery: its attempt count and status.
type Seen = (u64, String);

/// Follows the log until interrupted.
pub(super) async fn tail(filters: &DeliveryFilters, remote: &Remote) -> anyhow::Result<()> {
    let mut follow = Follow::new(filters);
    if !remote.json {
        print_rows(DELIVERY_HEADER, Vec::new());
    }
    // The first look only learns what is there, unless asked for a window
    // of its own.
    let mut news = filters.window.since.is_some();
    loop {
        for delivery in follow.look(remote).await? {
            if news && follow.wanted(&delivery) {
                if remote.json {
                    println!("{delivery}");
                } else {
                    print_rows_only(vec![delivery_row(&delivery)]);
                }
            }
        }
        if !news {
            eprintln!("following the delivery log; Ctrl-C to stop");
        }
        news = true;
        tokio::time::sleep(EVERY).await;
    }
}

/// The state of a tail between looks.
struct Follow<'a> {
    filters: &'a DeliveryFilters,
    /// Every delivery seen, as last seen.
    seen: HashMap<String, Seen>,
    /// Those pending or retrying at the last look.
    unfinished: HashSet<String>,
    /// New deliveries are looked for from this time (Unix ms, the newest
    /// seen's creation); `None` until one is seen.
    since: Option<String>,
    /// Whether the note that not every unfinished delivery is followed was
    /// given.
    warned: bool,
}

impl<'a> Follow<'a> {
    fn new(filters: &'a DeliveryFilters) -> Self {
        Self {
            filters,
            seen: HashMap::new(),
            unfinished: HashSet::new(),
            since: filters.window.since.clone(),
            warned: false,
        }
    }

    /// The query every read shares: the filters the API applies.
    fn query(&self) -> Vec<(&'static str, String)> {
        let mut query = vec![("limit", PAGE.to_string())];
        let given = [
            ("endpoint", self.filters.endpoint.clone()),
            ("event_type", self.filters.event_type.clone()),
            ("until", self.filters.window.until.clone()),
        ];
        query.extend(given.into_iter().filter_map(|(k, v)| Some((k, v?))));
        query
    }

    /// One look: the deliveries that changed since the last, oldest first.
    async fn look(&mut self, remote: &Remote) -> anyhow::Result<Vec<Value>> {
        let mut current = Vec::new();
        let mut query = self.query();
        match &self.since {
            Some(since) => query.push(("since", since.clone())),
            // Nothing seen yet: the newest page is enough to start from.
            None => query[0].1 = "1".to_owned(),
        }
        let (mut recent, _) = pages(remote, query, self.since.is_some()).await?;
        recent.reverse();
        match recent.last().and_then(|d| created_millis(&d["id"])) {
            Some(newest) => self.since = Some(newest.to_string()),
            // An empty log: whatever comes is new.
            None if self.since.is_none() => self.since = Some("0".to_owned()),
            None => {}
        }
        current.extend(recent);
        let mut unfinished = HashSet::new();
        for status in UNFINISHED {
            let mut query = self.query();
            query.push(("status", status.to_owned()));
            let (mut items, complete) = pages(remote, query, true).await?;
            if !complete && !self.warned {
                self.warned = true;
                eprintln!(
                    "more than {} deliveries are {status}: only the newest are followed",
                    PAGE * MAX_PAGES
                );
            }
            items.reverse();
            unfinished.extend(
                items
                    .iter()
                    .filter_map(|d| d["id"].as_str().map(str::to_owned)),
            );
            current.extend(items);
        }
        // Those that finished since the last look: their last attempt.
        let listed: HashSet<&str> = current.iter().filter_map(|d| d["id"].as_str()).collect();
        let left: Vec<String> = self
            .unfinished
            .iter()
            .filter(|id| !listed.contains(id.as_str()))
            .cloned()
            .collect();
        for id in left {
            let path = format!("/v1/deliveries/{id}");
            match call(remote, reqwest::Method::GET, &path, None, &[]).await {
                Ok(delivery) => current.push(delivery),
                // Pruned meanwhile: nothing more to show.
                Err(error) if error.to_string().contains("(not_found)") => {}
                Err(error) => return Err(error),
            }
        }
        self.unfinished = unfinished;
        let mut changed = Vec::new();
        for delivery in current {
            let Some(id) = delivery["id"].as_str().map(str::to_owned) else {
                continue;
            };
            let now = (
                delivery["attempt_count"].as_u64().unwrap_or(0),
                delivery["status"].as_str().unwrap_or("?").to_owned(),
            );
            if self.seen.get(&id) != Some(&now) {
                self.seen.insert(id, now);
                changed.push(delivery);
            }
        }
        Ok(changed)
    }

    /// Whether a changed delivery passes the status and response-code
    /// filters.
    fn wanted(&self, delivery: &Value) -> bool {
        let status = self
            .filters
            .status
            .as_deref()
            .is_none_or(|s| delivery["status"] == s);
        let code = self
            .filters
            .response_code
            .is_none_or(|c| delivery["last_status"].as_u64() == Some(u64::from(c)));
        status && code
    }
}

/// Every page of a listing (up to [`MAX_PAGES`] when `all`, else the
/// first), newest first, and whether that was all of it.
async fn pages(
    remote: &Remote,
    query: Vec<(&'static str, String)>,
    all: bool,
) -> anyhow::Result<(Vec<Value>, bool)> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut query = query.clone();
        query.extend(cursor.take().map(|c| ("cursor", c)));
        let page = get(remote, "/v1/deliveries", &query).await?;
        items.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(next) if all => cursor = Some(next.to_owned()),
            _ => return Ok((items, true)),
        }
    }
    Ok((items, false))
}
