//! Loading and validation, with the messages a person sees.

use std::path::Path;
use std::time::Duration;

use super::*;

fn load(text: &str) -> Result<Config, Error> {
    Config::from_toml("test.toml", text, Path::new("/etc/hookgate"))
}

fn message(text: &str) -> String {
    load(text).expect_err("the config is refused").to_string()
}

#[test]
fn the_defaults_alone_listen_on_8080_with_one_open_source() {
    let config = Config::defaults().expect("defaults load");
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.server.data_dir, Path::new("./hookgate-data"));
    assert_eq!(config.sources.len(), 1);
    assert_eq!(config.sources[0].name, "default");
    assert_eq!(config.sources[0].max_body_bytes, 10 << 20);
    assert_eq!(config.sources[0].dedup_window, Duration::from_secs(86_400));
    assert_eq!(
        config.plugin_host.limits.wall_time,
        Duration::from_millis(50)
    );
}

#[test]
fn a_file_overrides_single_keys_and_replaces_lists() {
    let config = load(
        r#"
        [server]
        listen = "127.0.0.1:9999"
        [[source]]
        name = "callintel"
        event_type = { pointer = "/event_type" }
        idempotency_key = { pointer = "/webhook_id" }
        auth = { type = "hmac", header = "X-Callintel-Signature", secrets = ["s3cret"] }
        [[plugin]]
        name = "summary"
        file = "plugins/summary.wasm"
        config = { event_type = "call.summary" }
        [[route]]
        source = "callintel"
        plugins = ["summary"]
        "#,
    )
    .expect("loads");
    assert_eq!(config.server.listen.port(), 9999);
    assert_eq!(
        config.server.log_format,
        LogFormat::Text,
        "other keys keep defaults"
    );
    assert_eq!(config.sources.len(), 1, "the default source was replaced");
    assert_eq!(
        config.sources[0].event_type,
        Some(Extract::Pointer("/event_type".into()))
    );
    assert_eq!(
        config.plugins[0].file,
        Path::new("/etc/hookgate/plugins/summary.wasm")
    );
}

#[test]
fn unknown_keys_are_refused_by_name() {
    let text = message("[server]\nlisten = \"127.0.0.1:1\"\nlisen = 3\n");
    assert!(
        text.starts_with("test.toml: unknown field `lisen`"),
        "{text}"
    );
    assert!(text.contains("in `server`"), "{text}");
}

#[test]
fn invalid_values_name_the_key() {
    let text = message("[server]\nlisten = \"not an address\"\n");
    assert!(text.contains("in `server.listen`"), "{text}");
    let text = message("[plugin_host]\npool_size = 0\n");
    assert_eq!(
        text,
        "config key `plugin_host.pool_size`: must be at least 1"
    );
    let text = message("[plugin_host]\ncompile_memory_bytes = 1000\n");
    assert!(
        text.starts_with("config key `plugin_host.compile_memory_bytes`: must be at least"),
        "{text}"
    );
}

#[test]
fn routes_must_name_existing_sources_and_plugins() {
    let text = message("[[route]]\nsource = \"nope\"\nplugins = []\n");
    assert_eq!(
        text,
        "config key `route[0].source`: no source is named \"nope\""
    );
    let text = message("[[route]]\nsource = \"default\"\nplugins = [\"ghost\"]\n");
    assert_eq!(
        text,
        "config key `route[0].plugins[0]`: no plugin is named \"ghost\""
    );
}

#[test]
fn plain_http_endpoints_are_refused_unless_allowed() {
    let endpoint = "[[endpoint]]\nname = \"crm\"\nurl = \"http://example.com/hook\"\n";
    let text = message(endpoint);
    assert!(
        text.starts_with("config key `endpoint[0].url`: plain http:// is refused"),
        "{text}"
    );
    let allowed = format!("[server.targets]\nallow_http = true\n{endpoint}");
    assert!(load(&allowed).is_ok());
}

#[test]
fn credentials_in_an_endpoint_url_are_refused() {
    let text = message("[[endpoint]]\nname = \"crm\"\nurl = \"https://u:p@example.com/hook\"\n");
    assert_eq!(
        text,
        format!(
            "config key `endpoint[0].url`: {}",
            crate::targets::CREDENTIALS_REFUSED
        )
    );
}

#[test]
fn an_endpoint_at_a_literal_forbidden_address_is_refused_at_load() {
    for (url, class) in [
        ("https://127.0.0.1/hook", "loopback"),
        ("https://[64:ff9b::a9fe:a9fe]/", "cloud metadata"),
        ("https://10.0.0.7/", "private"),
    ] {
        let text = message(&format!("[[endpoint]]\nname = \"crm\"\nurl = \"{url}\"\n"));
        assert!(
            text.starts_with("config key `endpoint[0].url`: ") && text.contains(class),
            "{url}: {text}"
        );
    }
    let allowed = "[server.targets]\nallow_loopback = true\n[[endpoint]]\nname = \"crm\"\nurl = \"https://127.0.0.1/hook\"\n";
    assert!(load(allowed).is_ok());
}

#[test]
fn duplicate_names_are_refused() {
    let text = message("[[source]]\nname = \"a\"\n[[source]]\nname = \"a\"\n");
    assert_eq!(text, "config key `source[1].name`: \"a\" is used twice");
}

#[test]
fn secrets_come_from_the_environment_and_never_print() {
    // PATH is set in every environment this runs in; reading it needs no
    // (unsafe) mutation of the process environment.
    let path = std::env::var("PATH").expect("PATH is set");
    let config = load(
        "[[source]]\nname = \"s\"\nauth = { type = \"bearer\", tokens = [{ env = \"PATH\" }] }\n",
    )
    .expect("loads");
    let SourceAuth::Bearer { tokens } = &config.sources[0].auth else {
        panic!("bearer auth expected");
    };
    assert_eq!(tokens[0].expose(), path);
    assert!(
        !format!("{config:?}").contains(&path),
        "a secret leaked into Debug"
    );

    let text = message(
        "[[source]]\nname = \"s\"\nauth = { type = \"bearer\", tokens = [{ env = \"HOOKGATE_TEST_UNSET_VAR\" }] }\n",
    );
    assert!(
        text.contains("HOOKGATE_TEST_UNSET_VAR is not set"),
        "{text}"
    );
}

#[test]
fn a_retry_policy_is_either_a_schedule_or_exponential() {
    let base = "[server.targets]\nallow_http = true\n[[endpoint]]\nname = \"e\"\nurl = \"http://x.test/\"\n";
    let both = format!("{base}[endpoint.retry]\nschedule = [\"1m\"]\nmax_attempts = 3\n");
    assert!(message(&both).starts_with("config key `endpoint[0].retry`: give either"));
    let schedule = format!("{base}[endpoint.retry]\nschedule = [\"1m\", \"10m\", \"1h\"]\n");
    let config = load(&schedule).expect("loads");
    let delays: Vec<Duration> = config.endpoints[0]
        .retry
        .schedule
        .clone()
        .expect("schedule")
        .into_iter()
        .map(|d| *d)
        .collect();
    assert_eq!(
        delays,
        [
            Duration::from_secs(60),
            Duration::from_secs(600),
            Duration::from_secs(3600)
        ]
    );
}

#[test]
fn the_example_config_in_the_repository_is_valid() {
    let text = include_str!("../../../examples/hookgate.toml");
    let config = Config::from_toml("examples/hookgate.toml", text, Path::new("examples"))
        .expect("the example is valid");
    assert_eq!(config.sources.len(), 5);
    assert_eq!(config.routes.len(), 5);
    assert_eq!(config.endpoints.len(), 5);
    assert!(config.endpoints.iter().any(|e| !e.plugins.is_empty()));
    assert!(config.endpoints.iter().any(|e| e.batch.is_some()));
    assert!(
        config
            .plugins
            .iter()
            .all(|p| p.file.starts_with("examples/../target"))
    );
}

#[test]
fn the_storage_engine_is_left_to_the_data_dir_unless_the_file_names_one() {
    let defaults = Config::defaults().expect("defaults load");
    assert_eq!(defaults.storage.engine, None);
    let config = load("[storage]\nengine = \"fjall\"\n").expect("loads");
    assert_eq!(config.storage.engine, Some(crate::store::Engine::Fjall));
    let config = load("[storage]\nengine = \"sled\"\n").expect("loads");
    assert_eq!(config.storage.engine, Some(crate::store::Engine::Sled));
    let text = message("[storage]\nengine = \"rocksdb\"\n");
    assert!(text.contains("in `storage.engine`"), "{text}");
    assert!(text.contains("sled") && text.contains("fjall"), "{text}");
}

#[test]
fn an_hmac_key_that_does_not_decode_is_refused_by_field() {
    let text = message(
        "[server.targets]\nallow_http = true\n\n[[endpoint]]\nname = \"e\"\nurl = \"http://example.com/\"\nsigning = { scheme = \"hmac\", header = \"x-sig\", secret = \"whsec_!!!\" }\n",
    );
    assert!(text.contains("signing.secret"), "{text}");
    let text = message(
        "[[source]]\nname = \"s\"\nauth = { type = \"hmac\", header = \"x-sig\", secrets = [\"ok\", \"whsec_!!!\"] }\n",
    );
    assert!(text.contains("auth.secrets[1]"), "{text}");
}
