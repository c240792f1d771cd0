//! The on-disk cache of compiled components, keyed by the component's content
//! hash and the engine's compatibility hash.
//!
//! Compiling a component takes from milliseconds to seconds; loading a cached
//! artifact takes microseconds. A cache file holds the SHA-256 of the artifact
//! followed by the artifact, and is checked before it is loaded, so a torn or
//! tampered file is recompiled rather than trusted.
//!
//! A compile may run in a child process (`compiler.rs`); its artifact is
//! adopted here, deserialized by this engine (which refuses one built for
//! another configuration) and written to the cache like any other.
//!
//! **Invariant:** only this module deserializes compiled code: a cache file
//! only after its digest matched, a child's artifact only as it came from
//! the child.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::Error;

const DIGEST_LEN: usize = 32;

/// The hex SHA-256 of a component's bytes: its identity in the cache and in
/// the management API.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Compiles `bytes`, or loads the artifact a previous compile left in `dir`.
pub(crate) fn load_or_compile(
    engine: &Engine,
    bytes: &[u8],
    hash: &str,
    dir: Option<&Path>,
) -> Result<Component, Error> {
    if let Some(component) = cached(engine, hash, dir) {
        return Ok(component);
    }
    let component = compile(engine, bytes)?;
    if let Some(dir) = dir {
        let artifact = component.serialize().map_err(|e| {
            Error::Compile(format!("cannot serialise the compiled component: {e:#}"))
        })?;
        store(&artifact, dir, &entry(engine, hash, dir))?;
    }
    Ok(component)
}

/// The artifact a previous compile left in `dir` for `hash`, if any.
pub(crate) fn cached(engine: &Engine, hash: &str, dir: Option<&Path>) -> Option<Component> {
    load(engine, &entry(engine, hash, dir?))
}

/// Takes the artifact a compiler child made of the component `hash`, and
/// keeps it in `dir`.
pub(crate) fn adopt(
    engine: &Engine,
    artifact: &[u8],
    hash: &str,
    dir: Option<&Path>,
) -> Result<Component, Error> {
    // SAFETY: `deserialize` trusts its input to be a wasmtime artifact.
    // This one is what `Component::serialize` wrote in a child process
    // running this same executable (`compiler.rs`), read whole from its
    // stdout after it exited with success; `deserialize` checks the
    // engine's compatibility hash in it against this engine's and refuses
    // a mismatch.
    #[allow(unsafe_code)]
    let component = unsafe { Component::deserialize(engine, artifact) }
        .map_err(|e| Error::Compile(format!("the compiler's artifact does not load: {e:#}")))?;
    if let Some(dir) = dir {
        store(artifact, dir, &entry(engine, hash, dir))?;
    }
    Ok(component)
}

/// Where the artifact of `hash` compiled by `engine` is kept in `dir`.
fn entry(engine: &Engine, hash: &str, dir: &Path) -> PathBuf {
    dir.join(format!("{hash}-{}.cwasm", engine_key(engine)))
}

fn compile(engine: &Engine, bytes: &[u8]) -> Result<Component, Error> {
    Component::new(engine, bytes).map_err(|e| Error::Compile(format!("{e:#}")))
}

/// A cached artifact, if present, intact and loadable by this engine.
fn load(engine: &Engine, path: &Path) -> Option<Component> {
    let file = std::fs::read(path).ok()?;
    if file.len() < DIGEST_LEN {
        return None;
    }
    let (digest, artifact) = file.split_at(DIGEST_LEN);
    if Sha256::digest(artifact).as_slice() != digest {
        tracing::warn!(path = %path.display(), "plugin cache entry is corrupt; recompiling");
        return None;
    }
    // SAFETY: `deserialize` trusts its input to be a wasmtime artifact. This
    // one was written by `store` below with this engine's compatibility hash
    // in its name, and its SHA-256 digest was just checked against the one
    // written beside it, so it is the exact bytes wasmtime produced.
    #[allow(unsafe_code)]
    let component = unsafe { Component::deserialize(engine, artifact) };
    component.ok()
}

/// Writes the artifact atomically: a temporary file, fsync'd, then renamed.
fn store(artifact: &[u8], dir: &Path, path: &Path) -> Result<(), Error> {
    let io = |path: &Path| {
        let path: PathBuf = path.to_owned();
        move |source| Error::Cache { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io(dir))?;
    tmp.write_all(&Sha256::digest(artifact)).map_err(io(path))?;
    tmp.write_all(artifact).map_err(io(path))?;
    tmp.as_file().sync_all().map_err(io(path))?;
    tmp.persist(path).map_err(|e| Error::Cache {
        path: path.to_owned(),
        source: e.error,
    })?;
    Ok(())
}

/// A short key for the engine's compatibility (wasmtime version, target and
/// compilation settings).
fn engine_key(engine: &Engine) -> String {
    let mut hasher = Sha256Hasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hex::encode(&hasher.0.finalize()[..8])
}

/// Feeds `Hash` output into SHA-256, which, unlike std's hasher, is stable
/// across processes and Rust versions.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().unwrap_or_default())
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}
