//! Which URLs the gateway may send to: `https://` only and public addresses
//! only, unless the configuration allows plain HTTP, loopback or private
//! networks (tests and local demos allow loopback explicitly).
//!
//! Used at ingest (a per-message target URL is refused before anything is
//! stored), before every delivery attempt (the host is resolved and each
//! address checked, for a clear dead-letter reason), and at connect time:
//! the delivery client resolves through [`PolicyResolver`], so a host that
//! answers differently between the check and the connection (DNS rebinding)
//! still cannot reach a forbidden address.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::dns::Name;

mod class;

use class::Class;

/// `[server.targets]`: what a delivery URL may point at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetPolicy {
    /// Allow `http://` (otherwise only `https://`).
    pub allow_http: bool,
    /// Allow loopback addresses (127.0.0.0/8, ::1, and IPv6 forms of them).
    pub allow_loopback: bool,
    /// Allow private, shared, link-local, unique-local and site-local
    /// addresses (never metadata, multicast or reserved ones).
    pub allow_private: bool,
}

/// Why a target was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not http(s), or not a valid URL.
    #[error("{0}")]
    Malformed(String),
    /// Plain http without permission.
    #[error("plain http:// targets are not allowed; use https://")]
    PlainHttp,
    /// The host resolves to an address of a forbidden class.
    #[error("{host} resolves to {addr}, a {class} address, which is not allowed as a target")]
    Forbidden {
        /// The URL's host.
        host: String,
        /// The offending address.
        addr: IpAddr,
        /// Loopback, private, link-local, ...
        class: &'static str,
    },
    /// The host did not resolve.
    #[error("cannot resolve {0}")]
    Unresolved(String),
}

/// Checks the scheme and, for a literal IP host, the address class.
pub fn check_url(raw: &str, policy: TargetPolicy) -> Result<url::Url, TargetError> {
    let url = url::Url::parse(raw)
        .map_err(|e| TargetError::Malformed(format!("{raw:?} is not a URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        "http" => return Err(TargetError::PlainHttp),
        other => {
            return Err(TargetError::Malformed(format!(
                "the scheme {other}:// is not allowed; use https://"
            )));
        }
    }
    if has_credentials(&url) {
        return Err(TargetError::Malformed(CREDENTIALS_REFUSED.to_owned()));
    }
    let host = url
        .host_str()
        .ok_or_else(|| TargetError::Malformed(format!("{raw:?} has no host")))?;
    if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
        check_ip(host, ip, policy)?;
    }
    Ok(url)
}

/// Why a URL with a user name or password is refused: the delivery client
/// would not send them, and the receiver would answer 401 to every attempt.
pub const CREDENTIALS_REFUSED: &str = "a target URL must not carry a user name or password (they are not sent); \
     give credentials as a header instead, e.g. headers = { Authorization = \"Basic ...\" }";

/// Whether a URL carries a user name or password.
pub fn has_credentials(url: &url::Url) -> bool {
    !url.username().is_empty() || url.password().is_some()
}

/// Resolves the URL's host and checks every address; returns them, so the
/// caller connects to exactly what was checked.
pub async fn resolve(url: &url::Url, policy: TargetPolicy) -> Result<Vec<SocketAddr>, TargetError> {
    let host = url
        .host_str()
        .ok_or_else(|| TargetError::Malformed("the URL has no host".into()))?;
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|_| TargetError::Unresolved(host.to_owned()))?
        .collect();
    if addrs.is_empty() {
        return Err(TargetError::Unresolved(host.to_owned()));
    }
    for addr in &addrs {
        check_ip(host, addr.ip(), policy)?;
    }
    Ok(addrs)
}

/// The delivery client's DNS resolver: the system's resolution, with every
/// address checked against the policy when the connection is made.
#[derive(Debug, Clone, Copy)]
pub struct PolicyResolver(pub TargetPolicy);

impl PolicyResolver {
    async fn lookup(host: String, policy: TargetPolicy) -> Result<Vec<SocketAddr>, TargetError> {
        // The port is the connector's to set; 0 here.
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
            .await
            .map_err(|_| TargetError::Unresolved(host.clone()))?
            .collect();
        if addrs.is_empty() {
            return Err(TargetError::Unresolved(host));
        }
        for addr in &addrs {
            check_ip(&host, addr.ip(), policy)?;
        }
        Ok(addrs)
    }
}

/// hyper's connector asks its resolver for a host's addresses; IP literals
/// do not come here (the pre-attempt [`resolve`] checks those).
impl tower_service::Service<Name> for PolicyResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = TargetError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, TargetError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), TargetError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let (host, policy) = (name.as_str().to_owned(), self.0);
        Box::pin(async move { Ok(Self::lookup(host, policy).await?.into_iter()) })
    }
}

fn check_ip(host: &str, addr: IpAddr, policy: TargetPolicy) -> Result<(), TargetError> {
    let forbidden = |class| {
        Err(TargetError::Forbidden {
            host: host.to_owned(),
            addr,
            class,
        })
    };
    match class::classify(addr) {
        Class::Public => Ok(()),
        Class::Loopback if policy.allow_loopback => Ok(()),
        Class::Loopback => forbidden("loopback"),
        Class::Private(_) if policy.allow_private => Ok(()),
        Class::Private(class) => forbidden(class),
        Class::Never(class) => forbidden(class),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: TargetPolicy = TargetPolicy {
        allow_http: false,
        allow_loopback: false,
        allow_private: false,
    };

    #[tokio::test]
    async fn the_connect_time_resolver_refuses_what_the_policy_forbids() {
        use tower_service::Service as _;
        let name = |host: &str| host.parse::<Name>().expect("a name");
        let refused = PolicyResolver(STRICT)
            .call(name("localhost"))
            .await
            .expect_err("loopback is refused");
        assert!(refused.to_string().contains("loopback"), "{refused}");
        let loopback = TargetPolicy {
            allow_loopback: true,
            ..STRICT
        };
        let addrs: Vec<SocketAddr> = PolicyResolver(loopback)
            .call(name("localhost"))
            .await
            .expect("allowed")
            .collect();
        assert!(!addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()));
    }

    #[test]
    fn https_to_a_public_address_is_allowed() {
        assert!(check_url("https://93.184.216.34/hook", STRICT).is_ok());
        assert!(check_url("https://hooks.example.com/x", STRICT).is_ok());
    }

    #[test]
    fn credentials_in_a_url_are_refused() {
        for url in [
            "https://user:pw@hooks.example.com/x",
            "https://user@hooks.example.com/",
        ] {
            match check_url(url, STRICT) {
                Err(TargetError::Malformed(why)) => assert_eq!(why, CREDENTIALS_REFUSED),
                other => panic!("{url}: expected a refusal, got {other:?}"),
            }
        }
    }

    #[test]
    fn plain_http_needs_permission() {
        assert_eq!(
            check_url("http://example.com/", STRICT),
            Err(TargetError::PlainHttp)
        );
        let lax = TargetPolicy {
            allow_http: true,
            ..STRICT
        };
        assert!(check_url("http://example.com/", lax).is_ok());
    }

    #[test]
    fn internal_addresses_are_refused_by_class() {
        for (url, class) in [
            ("https://127.0.0.1/", "loopback"),
            ("https://[::1]/", "loopback"),
            ("https://10.1.2.3/", "private"),
            ("https://192.168.0.1/", "private"),
            ("https://169.254.169.254/latest/meta-data", "cloud metadata"),
            ("https://169.254.1.1/", "link-local"),
            ("https://[fd12::1]/", "unique-local"),
            ("https://0.0.0.0/", "\"this network\" (0.0.0.0/8)"),
            ("https://[::ffff:127.0.0.1]/", "loopback"),
            ("https://[64:ff9b::a9fe:a9fe]/", "cloud metadata"),
            ("https://[::127.0.0.1]/", "loopback"),
            ("https://[2002:7f00:1::]/", "loopback"),
            ("https://[fec0::1]/", "site-local"),
            ("https://0.1.2.3/", "\"this network\" (0.0.0.0/8)"),
        ] {
            match check_url(url, STRICT) {
                Err(TargetError::Forbidden { class: got, .. }) => assert_eq!(got, class, "{url}"),
                other => panic!("{url}: expected forbidden, got {other:?}"),
            }
        }
    }

    #[test]
    fn loopback_can_be_allowed_but_metadata_never() {
        let local = TargetPolicy {
            allow_loopback: true,
            allow_private: true,
            ..STRICT
        };
        assert!(check_url("https://127.0.0.1:9/", local).is_ok());
        assert!(check_url("https://169.254.169.254/", local).is_err());
    }

    #[tokio::test]
    async fn resolution_checks_every_address() {
        let url = url::Url::parse("https://localhost:1/").expect("URL");
        assert!(matches!(
            resolve(&url, STRICT).await,
            Err(TargetError::Forbidden {
                class: "loopback",
                ..
            })
        ));
        let local = TargetPolicy {
            allow_loopback: true,
            ..STRICT
        };
        let addrs = resolve(&url, local).await.expect("resolves");
        assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 1));
    }

    /// The IPv6 forms of forbidden addresses, and one address of every
    /// non-public block, at check time and at connect time.
    const FORBIDDEN: &[&str] = &[
        "0.0.0.0",
        "0.9.9.9",
        "10.0.0.1",
        "100.64.0.1",
        "127.0.0.1",
        "169.254.169.254",
        "172.16.0.1",
        "192.0.0.1",
        "192.0.2.1",
        "192.88.99.1",
        "192.168.0.1",
        "198.18.0.1",
        "198.51.100.1",
        "203.0.113.1",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::",
        "::1",
        "::127.0.0.1",
        "::ffff:127.0.0.1",
        "::ffff:0:127.0.0.1",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b::7f00:1",
        "64:ff9b:1::a00:1",
        "100::1",
        "2001:2::1",
        "2001:db8::1",
        "2001:0:808:808::80ff:fffe",
        "2002:7f00:1::",
        "2002:a9fe:a9fe::",
        "3fff::1",
        "5f00::1",
        "fc00::1",
        "fd00:ec2::254",
        "fe80::1",
        "fec0::1",
        "ff02::1",
    ];

    #[test]
    fn every_forbidden_literal_is_refused_at_check_time() {
        for addr in FORBIDDEN {
            let host = if addr.contains(':') {
                format!("[{addr}]")
            } else {
                (*addr).to_owned()
            };
            let url = format!("https://{host}/hook");
            assert!(
                matches!(check_url(&url, STRICT), Err(TargetError::Forbidden { .. })),
                "{url} was not refused"
            );
        }
    }

    #[tokio::test]
    async fn every_forbidden_address_is_refused_at_connect_time() {
        for addr in FORBIDDEN {
            let refused = PolicyResolver::lookup((*addr).to_owned(), STRICT).await;
            assert!(
                matches!(refused, Err(TargetError::Forbidden { .. })),
                "{addr} was resolved for a connection: {refused:?}"
            );
        }
        let public = PolicyResolver::lookup("2606:4700::1111".to_owned(), STRICT)
            .await
            .expect("a public literal resolves");
        assert_eq!(public.len(), 1);
    }
}
