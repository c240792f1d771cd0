//! A view a higher layer builds from the configuration (ingest's parsed
//! sources, delivery's endpoints with their protection state): built once
//! per configuration version, when first asked for after a change, so the
//! registry itself knows nothing of what is built from it.

use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;

use super::{Registry, Snapshot};

/// A value built from the registry's configuration, kept until the
/// configuration's version changes.
pub struct Derived<T> {
    registry: Arc<Registry>,
    built: ArcSwap<Versioned<T>>,
    /// Held while building, so one change is built once.
    building: Mutex<()>,
    build: Box<dyn Fn(&Snapshot) -> T + Send + Sync>,
}

struct Versioned<T> {
    version: u64,
    value: Arc<T>,
}

impl<T> std::fmt::Debug for Derived<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Derived")
            .field("version", &self.built.load().version)
            .finish_non_exhaustive()
    }
}

impl<T: Send + Sync + 'static> Derived<T> {
    /// Builds the view of the configuration in force with `build`, and
    /// again for each later version.
    pub fn new(
        registry: Arc<Registry>,
        build: impl Fn(&Snapshot) -> T + Send + Sync + 'static,
    ) -> Self {
        let snapshot = registry.snapshot();
        let value = Arc::new(build(&snapshot));
        Self {
            registry,
            built: ArcSwap::from_pointee(Versioned {
                version: snapshot.version,
                value,
            }),
            building: Mutex::new(()),
            build: Box::new(build),
        }
    }

    /// The view of the configuration in force now.
    pub fn current(&self) -> Arc<T> {
        let version = self.registry.version();
        {
            let built = self.built.load();
            if built.version >= version {
                return built.value.clone();
            }
        }
        let _building = self.building.lock().unwrap_or_else(PoisonError::into_inner);
        let snapshot = self.registry.snapshot();
        let built = self.built.load();
        if built.version >= snapshot.version {
            return built.value.clone();
        }
        let value = Arc::new((self.build)(&snapshot));
        self.built.store(Arc::new(Versioned {
            version: snapshot.version,
            value: value.clone(),
        }));
        value
    }

    /// The registry it follows.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use serde_json::json;

    use super::*;
    use crate::clock::Clock;
    use crate::config::Config;
    use crate::metrics::Metrics;
    use crate::plugin::{HostConfig, PluginHost};
    use crate::registry::Endpoints;
    use crate::store::{Backend, Catalog, Engine, Store};

    const CONFIG: &str = r#"
[server.targets]
allow_http = true

[[endpoint]]
name = "file"
url = "http://hooks.example.com/in"
"#;

    #[tokio::test]
    async fn a_view_is_built_once_per_version_and_again_after_a_change() {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = Config::from_toml("test.toml", CONFIG, dir.path()).expect("valid config");
        let store: Arc<dyn Backend> = Engine::Fjall.open(dir.path()).expect("opens");
        let host = PluginHost::new(HostConfig {
            pool_size: 1,
            ..HostConfig::default()
        })
        .expect("host");
        let registry = Arc::new(
            Registry::open(
                &config,
                store.clone() as Arc<dyn Store>,
                store as Arc<dyn Catalog>,
                host,
                Clock::new(),
                Arc::new(Metrics::new()),
            )
            .await
            .expect("registry"),
        );
        let builds = Arc::new(AtomicUsize::new(0));
        let counted = builds.clone();
        let names = Derived::new(registry.clone(), move |snapshot| {
            counted.fetch_add(1, Ordering::SeqCst);
            let mut names: Vec<String> = snapshot.endpoints.keys().cloned().collect();
            names.sort();
            names
        });
        assert_eq!(*names.current(), ["file"]);
        assert_eq!(*names.current(), ["file"]);
        assert_eq!(
            builds.load(Ordering::SeqCst),
            1,
            "built once for one version"
        );

        registry
            .create::<Endpoints>(json!({"name": "api", "url": "http://hooks.example.com/2"}))
            .await
            .expect("created");
        assert_eq!(*names.current(), ["api", "file"]);
        assert_eq!(*names.current(), ["api", "file"]);
        assert_eq!(builds.load(Ordering::SeqCst), 2, "and once for the next");
    }
}
