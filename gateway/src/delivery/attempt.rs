//! One HTTP attempt: send, read at most 4 KiB of the answer, and classify.

use std::time::{Duration, Instant};

use super::RESPONSE_BODY_LIMIT;

/// What an attempt got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Response {
    /// A response arrived.
    Status {
        /// Its status code.
        code: u16,
        /// The start of its body.
        body: String,
        /// Its `Retry-After`, if any and parseable.
        retry_after: Option<Duration>,
    },
    /// No response: timeout, refused connection, TLS failure.
    Failed(String),
}

/// Sends one request and reads the answer.
pub(super) async fn send(
    client: &reqwest::Client,
    url: &url::Url,
    headers: &[(String, String)],
    body: Vec<u8>,
    timeout: Duration,
) -> (Response, Duration) {
    let started = Instant::now();
    let mut request = client.post(url.clone()).timeout(timeout).body(body);
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => {
            let why = if error.is_timeout() {
                format!("timed out after {timeout:?}")
            } else if error.is_connect() {
                format!("cannot connect: {}", root_cause(&error))
            } else {
                root_cause(&error)
            };
            return (Response::Failed(why), started.elapsed());
        }
    };
    let code = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let body = read_limited(response).await;
    (
        Response::Status {
            code,
            body,
            retry_after,
        },
        started.elapsed(),
    )
}

async fn read_limited(mut response: reqwest::Response) -> String {
    let mut kept = Vec::new();
    while kept.len() < RESPONSE_BODY_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
            _ => break,
        }
    }
    kept.truncate(RESPONSE_BODY_LIMIT);
    String::from_utf8_lossy(&kept).into_owned()
}

/// `Retry-After` as seconds or an HTTP date (relative to now).
fn parse_retry_after(value: &str) -> Option<Duration> {
    if let Ok(secs) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value.trim()).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

fn root_cause(error: &dyn std::error::Error) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
