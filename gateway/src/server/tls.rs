//! HTTPS on the listener (`[server.tls]`): rustls with the certificate
//! chain and key read from PEM files, which are read again when either
//! file changes (checked every [`CHECK_EVERY`]) or on SIGHUP, so a renewed
//! certificate takes effect without a restart. A reload that fails (a
//! half-written file, a key that does not match) keeps the certificate in
//! force and logs why; new connections get the new certificate, open ones
//! keep theirs.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::ring::sign::any_supported_type;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::config::TlsConfig;

/// How often the files are checked for a change.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Why the certificate could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("{}: {reason}", path.display())]
pub struct TlsError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

/// What identifies a file's version: its modification time and length.
type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &Path) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// The certificate in force, and the files it comes from.
#[derive(Debug)]
pub(super) struct Certificate {
    files: TlsConfig,
    current: RwLock<Arc<CertifiedKey>>,
    /// The files' stamps when last read.
    read: Mutex<(Stamp, Stamp)>,
}

impl ResolvesServerCert for Certificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}

impl Certificate {
    /// Reads the files; the acceptor serving them.
    pub(super) fn load(files: &TlsConfig) -> Result<(Arc<Self>, TlsAcceptor), TlsError> {
        let stamps = (stamp(&files.cert), stamp(&files.key));
        let key = read(files)?;
        let certificate = Arc::new(Self {
            files: files.clone(),
            current: RwLock::new(Arc::new(key)),
            read: Mutex::new(stamps),
        });
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError {
                path: files.cert.clone(),
                reason: e.to_string(),
            })?
            .with_no_client_auth()
            .with_cert_resolver(certificate.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok((certificate, TlsAcceptor::from(Arc::new(config))))
    }

    /// Reads the files again; the certificate in force stays if they do
    /// not load.
    pub(super) fn reload(&self) -> Result<(), TlsError> {
        let stamps = (stamp(&self.files.cert), stamp(&self.files.key));
        let key = read(&self.files)?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(key);
        *self.read.lock().unwrap_or_else(PoisonError::into_inner) = stamps;
        tracing::info!(cert = %self.files.cert.display(), "TLS certificate reloaded");
        Ok(())
    }

    /// Whether either file changed since it was last read.
    fn changed(&self) -> bool {
        let now = (stamp(&self.files.cert), stamp(&self.files.key));
        *self.read.lock().unwrap_or_else(PoisonError::into_inner) != now
    }

    /// Reloads when the files change or on SIGHUP, until `shutdown`.
    pub(super) async fn watch(self: Arc<Self>, shutdown: CancellationToken) {
        let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        {
            Ok(signal) => Some(signal),
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGHUP; the certificate reloads when its files change");
                None
            }
        };
        let mut tick = tokio::time::interval(CHECK_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let forced = tokio::select! {
                () = shutdown.cancelled() => return,
                _ = tick.tick() => false,
                Some(()) = async { hangup.as_mut()?.recv().await } => true,
            };
            if (forced || self.changed())
                && let Err(error) = self.reload()
            {
                tracing::error!(%error, "TLS certificate not reloaded; the one in force stays");
                // Not again until the files change once more.
                *self.read.lock().unwrap_or_else(PoisonError::into_inner) =
                    (stamp(&self.files.cert), stamp(&self.files.key));
            }
        }
    }
}

/// The chain and key from the files, checked to belong together.
fn read(files: &TlsConfig) -> Result<CertifiedKey, TlsError> {
    let bad = |path: &Path, reason: String| TlsError {
        path: path.to_owned(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            bad(
                &files.cert,
                format!("cannot read the certificate chain: {e}"),
            )
        })?;
    if chain.is_empty() {
        return Err(bad(&files.cert, "holds no PEM certificate".into()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| bad(&files.key, format!("cannot read the private key: {e}")))?;
    let signer = any_supported_type(&key)
        .map_err(|e| bad(&files.key, format!("unsupported private key: {e}")))?;
    let certified = CertifiedKey::new(chain, signer);
    certified
        .keys_match()
        .map_err(|e| bad(&files.key, format!("does not match the certificate: {e}")))?;
    Ok(certified)
}
