//! What a component imports and exports, and the sandbox's allow-list.
//!
//! The allow-list is by interface: WASI's cli, clocks, io, random and
//! filesystem (useless without preopens, but Rust's std links it), plus
//! `hookgate:plugin@0.1` and `@0.2`. `wasi:sockets` and `wasi:http`'s
//! client interfaces are linked as denied (`network.rs`): every call fails.
//! Anything else is refused at load time, every offending import listed.

use wasmtime::Engine;
use wasmtime::component::Component;

use super::Error;

/// Interface prefixes a plugin may import; each is followed by `/` and an
/// interface name.
const ALLOWED_PACKAGES: &[&str] = &[
    "wasi:cli/",
    "wasi:clocks/",
    "wasi:io/",
    "wasi:random/",
    "wasi:filesystem/",
];

/// Interfaces linked as denied: a component may import them, and every
/// call fails (`network.rs`). Exact names, before the version.
const DENIED_INTERFACES: &[&str] = &[
    "wasi:sockets/network",
    "wasi:sockets/instance-network",
    "wasi:sockets/tcp",
    "wasi:sockets/tcp-create-socket",
    "wasi:sockets/udp",
    "wasi:sockets/udp-create-socket",
    "wasi:sockets/ip-name-lookup",
    "wasi:http/types",
    "wasi:http/outgoing-handler",
];

/// Our own package, at a version this host implements.
const OWN_PACKAGE: &str = "hookgate:plugin/";
const OWN_VERSION_PREFIXES: &[&str] = &["0.1.", "0.2."];

/// The versions of `hookgate:plugin` the host runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContractVersion {
    /// 0.1.x: no `respond`.
    V0_1,
    /// 0.2.x, the current contract.
    V0_2,
}

/// The contract version a component's imports of our package name, if
/// they name one (the first such import decides).
pub(crate) fn contract_version(interface: &Interface) -> Option<ContractVersion> {
    interface.imports.iter().find_map(|name| {
        let (interface, version) = name.split_once('@')?;
        interface.strip_prefix(OWN_PACKAGE)?;
        if version.starts_with("0.1.") {
            Some(ContractVersion::V0_1)
        } else if version.starts_with("0.2.") {
            Some(ContractVersion::V0_2)
        } else {
            None
        }
    })
}

/// A component's interface, as `hookgate plugin check` prints it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Interface {
    /// Imported names, for example `wasi:io/streams@0.2.6`.
    pub imports: Vec<String>,
    /// Exported names, for example `handle`.
    pub exports: Vec<String>,
    /// The imports linked as denied (sockets, outgoing HTTP): the component
    /// loads, and every call to them fails.
    pub denied: Vec<String>,
}

/// Lists a component's imports and exports.
pub(crate) fn describe(component: &Component, engine: &Engine) -> Interface {
    let ty = component.component_type();
    let imports: Vec<String> = ty
        .imports(engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    Interface {
        denied: imports.iter().filter(|n| denied(n)).cloned().collect(),
        imports,
        exports: ty
            .exports(engine)
            .map(|(name, _)| name.to_owned())
            .collect(),
    }
}

/// Refuses a component whose imports leave the sandbox.
pub(crate) fn check(interface: &Interface) -> Result<(), Error> {
    let forbidden: Vec<String> = interface
        .imports
        .iter()
        .filter(|name| !allowed(name) && !denied(name))
        .cloned()
        .collect();
    if forbidden.is_empty() {
        Ok(())
    } else {
        Err(Error::ForbiddenImports { imports: forbidden })
    }
}

/// Whether an import is one of those linked as denied.
fn denied(import: &str) -> bool {
    let interface = import.split_once('@').map_or(import, |(i, _)| i);
    DENIED_INTERFACES.contains(&interface)
}

fn allowed(import: &str) -> bool {
    let (interface, version) = import.split_once('@').unwrap_or((import, ""));
    if let Some(rest) = interface.strip_prefix(OWN_PACKAGE) {
        return !rest.is_empty() && OWN_VERSION_PREFIXES.iter().any(|p| version.starts_with(p));
    }
    ALLOWED_PACKAGES.iter().any(|p| {
        interface
            .strip_prefix(p)
            .is_some_and(|rest| !rest.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interface(imports: &[&str]) -> Interface {
        Interface {
            imports: imports.iter().map(|s| s.to_string()).collect(),
            exports: vec!["handle".into()],
            denied: Vec::new(),
        }
    }

    #[test]
    fn wasi_basics_and_our_package_are_allowed() {
        let ok = interface(&[
            "wasi:cli/environment@0.2.6",
            "wasi:io/streams@0.2.0",
            "wasi:clocks/wall-clock@0.2.6",
            "wasi:random/random@0.2.6",
            "wasi:filesystem/preopens@0.2.6",
            "hookgate:plugin/log@0.1.0",
            "hookgate:plugin/config@0.2.0",
        ]);
        assert!(check(&ok).is_ok());
    }

    #[test]
    fn every_forbidden_import_is_listed() {
        let bad = interface(&[
            "wasi:io/streams@0.2.6",
            "wasi:sockets/tcp@0.2.6",
            "wasi:http/incoming-handler@0.2.6",
            "hookgate:plugin/log@0.3.0",
            "acme:evil/thing",
        ]);
        match check(&bad) {
            Err(Error::ForbiddenImports { imports }) => assert_eq!(
                imports,
                [
                    "wasi:http/incoming-handler@0.2.6",
                    "hookgate:plugin/log@0.3.0",
                    "acme:evil/thing"
                ]
            ),
            other => panic!("expected forbidden imports, got {other:?}"),
        }
    }

    #[test]
    fn sockets_and_outgoing_http_are_linked_as_denied() {
        for name in [
            "wasi:sockets/tcp@0.2.0",
            "wasi:sockets/ip-name-lookup@0.2.6",
            "wasi:sockets/instance-network@0.2.6",
            "wasi:http/types@0.2.3",
            "wasi:http/outgoing-handler@0.2.6",
        ] {
            assert!(denied(name), "{name}");
            assert!(check(&interface(&[name])).is_ok(), "{name}");
        }
        assert!(!denied("wasi:sockets/tcpx@0.2.0"));
        assert!(!denied("wasi:http/incoming-handler@0.2.6"));
        assert!(!denied("wasi:io/streams@0.2.6"));
    }

    #[test]
    fn the_contract_version_is_the_one_our_imports_name() {
        let old = interface(&["wasi:io/streams@0.2.6", "hookgate:plugin/log@0.1.0"]);
        assert_eq!(contract_version(&old), Some(ContractVersion::V0_1));
        let new = interface(&["wasi:io/streams@0.2.6", "hookgate:plugin/types@0.2.0"]);
        assert_eq!(contract_version(&new), Some(ContractVersion::V0_2));
        assert_eq!(
            contract_version(&interface(&["wasi:io/streams@0.2.6"])),
            None
        );
    }

    #[test]
    fn a_prefix_alone_is_not_an_interface() {
        assert!(!allowed("wasi:cli/"));
        assert!(!allowed("wasi:clix/foo"));
    }
}
