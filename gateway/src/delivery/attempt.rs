//! One HTTP attempt: send, read at most 4 KiB of the answer, and classify;
//! and the client that sends it.
//!
//! The client is hyper's pooled HTTP/1.1 client over TCP or rustls (Mozilla's
//! roots). It follows no redirects (a 3xx is an answer like any other), and
//! it resolves host names through [`PolicyResolver`], which checks every
//! address against the target policy when a connection is made.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::RESPONSE_BODY_LIMIT;
use crate::targets::PolicyResolver;
use crate::targets::TargetPolicy;

/// How long an idle pooled connection is kept.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

const USER_AGENT: &str = concat!("hookgate/", env!("CARGO_PKG_VERSION"));

type Connector = hyper_rustls::HttpsConnector<HttpConnector<PolicyResolver>>;

/// The delivery client: one connection pool for every endpoint.
#[derive(Clone)]
pub(super) struct Client(HyperClient<Connector, Full<Bytes>>);

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

impl Client {
    /// A client whose connections resolve hosts under `policy`.
    pub(super) fn new(policy: TargetPolicy) -> Result<Self, super::Error> {
        let mut tcp = HttpConnector::new_with_resolver(PolicyResolver(policy));
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        let tls = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(super::Error::Tls)?
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let client = HyperClient::builder(TokioExecutor::new())
            .pool_idle_timeout(IDLE_TIMEOUT)
            .build(tls);
        Ok(Self(client))
    }
}

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

/// Sends one request and reads the answer, all within `timeout`.
pub(super) async fn send(
    client: &Client,
    url: &url::Url,
    headers: &[(String, String)],
    body: Vec<u8>,
    timeout: Duration,
    now: u64,
) -> (Response, Duration) {
    let started = Instant::now();
    let response = match request(url, headers, body) {
        Ok(request) => tokio::time::timeout(timeout, exchange(client, request, now))
            .await
            .unwrap_or_else(|_| Response::Failed(format!("timed out after {timeout:?}"))),
        Err(why) => Response::Failed(why),
    };
    (response, started.elapsed())
}

fn request(
    url: &url::Url,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> Result<http::Request<Full<Bytes>>, String> {
    let uri: http::Uri = url
        .as_str()
        .parse()
        .map_err(|e| format!("invalid URL {url}: {e}"))?;
    let mut request = http::Request::post(uri)
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("cannot build the request: {e}"))?;
    let map = request.headers_mut();
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("invalid header name {name:?}"))?;
        let value =
            HeaderValue::from_str(value).map_err(|_| format!("invalid value for header {name}"))?;
        map.append(name, value);
    }
    if !map.contains_key(http::header::USER_AGENT) {
        map.insert(
            http::header::USER_AGENT,
            HeaderValue::from_static(USER_AGENT),
        );
    }
    Ok(request)
}

/// Sends a request and waits for the answer's head; why not, if it did not
/// come.
async fn respond(
    client: &Client,
    request: http::Request<Full<Bytes>>,
) -> Result<http::Response<hyper::body::Incoming>, String> {
    client.0.request(request).await.map_err(|error| {
        let why = root_cause(&error);
        if error.is_connect() {
            format!("cannot connect: {why}")
        } else {
            why
        }
    })
}

async fn exchange(client: &Client, request: http::Request<Full<Bytes>>, now: u64) -> Response {
    let response = match respond(client, request).await {
        Ok(response) => response,
        Err(why) => return Response::Failed(why),
    };
    let code = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|value| parse_retry_after(value, now));
    let body = read_limited(response.into_body()).await;
    Response::Status {
        code,
        body,
        retry_after,
    }
}

/// What a hook call got: a whole answer to relay, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Answer {
    /// A response, read whole.
    Status {
        /// Its status code.
        code: u16,
        /// Its headers, in order.
        headers: Vec<(String, String)>,
        /// Its body.
        body: Vec<u8>,
    },
    /// A response whose body is longer than the limit.
    TooLarge {
        /// Its status code.
        code: u16,
    },
    /// No response within the time allowed.
    TimedOut(String),
    /// No response: refused connection, TLS failure.
    Failed(String),
}

/// Sends one request and reads the whole answer, its body up to `limit`
/// bytes, all within `timeout`: a hook call, whose answer goes back to a
/// waiting caller.
pub(super) async fn call(
    client: &Client,
    url: &url::Url,
    headers: &[(String, String)],
    body: Vec<u8>,
    timeout: Duration,
    limit: usize,
) -> (Answer, Duration) {
    let started = Instant::now();
    let answer = match request(url, headers, body) {
        Ok(request) => tokio::time::timeout(timeout, read_whole(client, request, limit))
            .await
            .unwrap_or_else(|_| Answer::TimedOut(format!("timed out after {timeout:?}"))),
        Err(why) => Answer::Failed(why),
    };
    (answer, started.elapsed())
}

async fn read_whole(client: &Client, request: http::Request<Full<Bytes>>, limit: usize) -> Answer {
    let response = match respond(client, request).await {
        Ok(response) => response,
        Err(why) => return Answer::Failed(why),
    };
    let code = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    match http_body_util::Limited::new(response.into_body(), limit)
        .collect()
        .await
    {
        Ok(body) => Answer::Status {
            code,
            headers,
            body: body.to_bytes().to_vec(),
        },
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Answer::TooLarge { code },
        Err(error) => Answer::Failed(format!("the answer was cut off: {error}")),
    }
}

/// The start of a response body: up to [`RESPONSE_BODY_LIMIT`] bytes; the
/// rest is not read.
async fn read_limited(mut body: hyper::body::Incoming) -> String {
    let mut kept = Vec::new();
    while kept.len() < RESPONSE_BODY_LIMIT {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    kept.extend_from_slice(data);
                }
            }
            _ => break,
        }
    }
    kept.truncate(RESPONSE_BODY_LIMIT);
    String::from_utf8_lossy(&kept).into_owned()
}

/// `Retry-After` as seconds or an HTTP date, relative to `now` (Unix ms, the
/// attempt's time).
fn parse_retry_after(value: &str, now: u64) -> Option<Duration> {
    if let Ok(secs) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value.trim()).ok()?;
    let now = std::time::UNIX_EPOCH + Duration::from_millis(now);
    Some(at.duration_since(now).unwrap_or_default())
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
        // 2015-10-21T07:28:00Z in Unix ms.
        let date = 1_445_412_480_000;
        assert_eq!(
            parse_retry_after("120", date),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", date - 90_000),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", date + 1),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(parse_retry_after("soon", date), None);
    }

    #[test]
    fn a_header_that_is_not_http_fails_the_request_before_sending() {
        let url = url::Url::parse("http://127.0.0.1:9/").expect("URL");
        let bad = vec![("bad header".to_owned(), "v".to_owned())];
        assert!(request(&url, &bad, Vec::new()).is_err());
        let fine = vec![("x-api-key".to_owned(), "k".to_owned())];
        let request = request(&url, &fine, Vec::new()).expect("builds");
        assert_eq!(request.headers()["user-agent"], USER_AGENT);
        assert_eq!(request.headers()["x-api-key"], "k");
    }
}
