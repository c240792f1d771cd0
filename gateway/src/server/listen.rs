//! The HTTP listener: accepts connections up to a bound, serves each with
//! hyper under a header-read timeout, gives every request body a deadline,
//! and on shutdown stops accepting and lets the connections finish.
//!
//! Why not `axum::serve`: it has no timeouts and no bound, so idle or
//! dribbling connections stay open until the descriptors run out and ingest
//! and `/healthz` stop answering.
//!
//! - **Header read**: a request's head must arrive within
//!   `header_read_timeout`, counted from when the connection starts waiting
//!   for one: its start, or the end of the previous response. So an idle
//!   keep-alive connection is closed after that long too.
//! - **Body read**: the whole body must arrive within `body_read_timeout`
//!   ([`super::deadline`]); ingest answers 408 past it.
//! - **Open connections**: past `max_connections`, a new connection gets
//!   `503 {code: "overloaded"}` and is closed, rather than waiting.
//! - **TLS** (`[server.tls]`, [`super::tls`]): the handshake is made in the
//!   connection's own task, within `header_read_timeout`, so a slow one
//!   holds neither the accept loop nor a descriptor for long.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::either::Either;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use super::deadline::Deadline;

/// The connection limits, from `[server]`.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Time to send a request's head (and so the longest idle keep-alive).
    pub header_read_timeout: Duration,
    /// Time to send a whole request body.
    pub body_read_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
    /// How long shutdown waits for open connections to finish.
    pub shutdown_grace: Duration,
}

/// How long a refused connection gets to take its 503.
const REFUSAL_WRITE: Duration = Duration::from_secs(1);
/// Refusals being written at once; past this a connection over the bound
/// is closed without an answer, so refusing costs bounded descriptors too.
const REFUSALS: usize = 64;
/// The wait after an accept error (out of descriptors, say) before the
/// next accept, so the loop does not spin while nothing can be accepted.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The answer to a connection past the bound.
fn overloaded() -> Vec<u8> {
    let body = format!(
        r#"{{"code":"{}","message":"too many open connections; retry in a moment"}}"#,
        crate::http_error::Code::Overloaded
    );
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Serves `router` on `listener` until `shutdown` fires, then waits for the
/// open connections to finish their requests.
pub(super) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    tls: Option<TlsAcceptor>,
    shutdown: CancellationToken,
) {
    let open = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let refusals = Arc::new(Semaphore::new(REFUSALS));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            if let Ok(refusing) = refusals.clone().try_acquire_owned() {
                tokio::spawn(async move {
                    let _refusing = refusing;
                    refuse(stream).await;
                });
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let body_limit = limits.body_read_timeout;
        let service = router
            .clone()
            .map_request(move |request: http::Request<Incoming>| {
                let mut request =
                    request.map(|body| axum::body::Body::new(Deadline::new(body, body_limit)));
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            });
        let (http, watcher, tls) = (http.clone(), graceful.watcher(), tls.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let stream = match tls {
                None => Either::Left(stream),
                Some(acceptor) => {
                    let handshake = acceptor.accept(stream);
                    match tokio::time::timeout(limits.header_read_timeout, handshake).await {
                        Ok(Ok(stream)) => Either::Right(stream),
                        Ok(Err(error)) => {
                            tracing::debug!(%error, %peer, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    }
                }
            };
            let connection =
                http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
            if let Err(error) = watcher.watch(connection).await {
                tracing::debug!(%error, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period; closing them");
    }
}

/// Answers a connection past the bound with 503 and closes it: the write
/// side first, then what the client sent is read off briefly, so the close
/// does not reset the connection before the client has read the answer.
async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(REFUSAL_WRITE, async {
        stream.write_all(&overloaded()).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 1024];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<(), std::io::Error>(())
    })
    .await;
}

/// Raises the soft limit on open descriptors to the hard limit, where the
/// OS allows, so `max_connections` is not cut short by a low default.
/// Returns the soft limit in force.
pub fn raise_descriptor_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if let (Some(current), Some(maximum)) = (limit.current, limit.maximum)
        && current < maximum
    {
        limit.current = Some(maximum);
        if setrlimit(Resource::Nofile, limit).is_err() {
            return getrlimit(Resource::Nofile).current;
        }
    }
    limit.current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overloaded_answer_declares_its_length() {
        let answer = overloaded();
        let text = std::str::from_utf8(&answer).expect("text");
        let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        let json: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(json["code"], "overloaded");
    }

    #[test]
    fn the_descriptor_limit_is_raised_to_the_hard_limit() {
        use rustix::process::{Resource, getrlimit};
        let raised = raise_descriptor_limit();
        assert_eq!(
            raised,
            getrlimit(Resource::Nofile).current,
            "it reports what is in force"
        );
        // Where the hard limit is finite (Linux's always is) and ours to
        // reach, the soft limit is now at it.
        if let (Some(soft), Some(hard)) = (raised, getrlimit(Resource::Nofile).maximum) {
            assert_eq!(soft, hard);
        }
    }
}
