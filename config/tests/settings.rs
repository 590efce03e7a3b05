//! The settings file: defaults, a complete file, errors naming the key and its line, paths made
//! relative to the file's folder, and secrets kept out of `Debug`.

mod common;

use common::TempFolder;

use std::net::SocketAddr;
use std::path::Path;

use bizgraph_config::Settings;
use bizgraph_config::settings::{DestinationSource, IdentityMode};

fn parse(text: &str) -> Settings {
    Settings::from_toml(text, "bizgraph.toml")
        .unwrap_or_else(|error| panic!("settings should be accepted, got: {error}"))
}

#[test]
fn defaults_hold_for_no_file_an_empty_file_and_empty_sections() {
    let cases = [
        ("Settings::default()", Settings::default()),
        ("empty file", parse("")),
        (
            "empty sections",
            parse(
                "[server]\n[destinations]\n[connectivity]\n[tokens]\n[saml]\n[identity]\n[identity.jwt]\n[upstream]\n",
            ),
        ),
    ];
    for (case, settings) in cases {
        assert_eq!(
            settings.server.listen,
            SocketAddr::from(([127, 0, 0, 1], 4000)),
            "{case}"
        );
        assert_eq!(settings.server.body_limit_bytes, 1024 * 1024, "{case}");
        assert_eq!(settings.tokens.expiry_margin_seconds, 60, "{case}");
        assert_eq!(settings.tokens.max_entries, 100_000, "{case}");
        assert_eq!(settings.tokens.request_timeout_seconds, 10, "{case}");
        assert_eq!(settings.destinations.cache_ttl_seconds, 300, "{case}");
        assert_eq!(settings.destinations.cache_max_entries, 10_000, "{case}");
        assert_eq!(
            settings.destinations.source,
            DestinationSource::File,
            "{case}"
        );
        assert_eq!(settings.destinations.file, None, "{case}");
        assert_eq!(settings.identity.mode, IdentityMode::Jwt, "{case}");
        assert_eq!(settings.identity.jwt.leeway_seconds, 30, "{case}");
        assert!(settings.identity.jwt.audiences.is_empty(), "{case}");
        assert!(settings.identity.users.is_empty(), "{case}");
        assert_eq!(settings.identity.admin_scope, "bizgraph.admin", "{case}");
        assert_eq!(settings.saml.issuer, "bizgraph", "{case}");
        assert_eq!(settings.saml.assertion_lifetime_seconds, 300, "{case}");
        assert_eq!(settings.upstream.timeout_seconds, 30, "{case}");
        assert_eq!(
            settings.upstream.max_response_bytes,
            64 * 1024 * 1024,
            "{case}"
        );
        assert!(settings.connectivity.proxy.is_none(), "{case}");
        assert!(settings.connectivity.client_secret.is_none(), "{case}");
    }
}

#[test]
fn a_section_given_in_part_keeps_the_defaults_of_the_rest() {
    let settings = parse("[server]\nbody_limit_bytes = 2048\n\n[tokens]\nmax_entries = 5\n");
    assert_eq!(settings.server.body_limit_bytes, 2048);
    assert_eq!(
        settings.server.listen,
        SocketAddr::from(([127, 0, 0, 1], 4000))
    );
    assert_eq!(settings.tokens.max_entries, 5);
    assert_eq!(settings.tokens.expiry_margin_seconds, 60);
}

const FULL: &str = r#"
[server]
listen = "0.0.0.0:8080"
body_limit_bytes = 4194304

[destinations]
source = "service"
file = "destinations.json"
binding = "bizgraph-destination"
binding_root = "/bindings"
cache_ttl_seconds = 120
cache_max_entries = 500

[connectivity]
proxy = "http://connectivity-proxy.kyma-system:20003"
token_service_url = "https://acme.authentication.eu10.hana.ondemand.com"
client_id = "sb-connectivity"
client_secret = "connectivity-settings-secret"
client_secret_env = "CONNECTIVITY_CLIENT_SECRET"
binding = "bizgraph-connectivity"

[tokens]
expiry_margin_seconds = 90
max_entries = 2000
request_timeout_seconds = 5

[saml]
signing_key_file = "keys/saml.key"
certificate_file = "keys/saml.crt"
issuer = "https://bizgraph.example.com"
assertion_lifetime_seconds = 120

[identity]
mode = "development"
admin_scope = "bizgraph!t1.operator"

[identity.jwt]
jwks_url = "https://acme.accounts.ondemand.com/oauth2/certs"
public_key_file = "keys/idp.pem"
issuer = "https://acme.accounts.ondemand.com"
audiences = ["bizgraph", "sb-bizgraph!t1"]
leeway_seconds = 10

[[identity.users]]
name = "alice"
password = "alice-settings-password"
tenant = "acme"
email = "alice@acme.example"
admin = true

[[identity.users]]
name = "bob"
password = "bob-settings-password"

[upstream]
timeout_seconds = 15
max_response_bytes = 1048576
"#;

#[test]
fn a_full_settings_file_parses_into_every_field() {
    let settings = parse(FULL);

    assert_eq!(
        settings.server.listen,
        SocketAddr::from(([0, 0, 0, 0], 8080))
    );
    assert_eq!(settings.server.body_limit_bytes, 4_194_304);

    let destinations = &settings.destinations;
    assert_eq!(destinations.source, DestinationSource::Service);
    assert_eq!(
        destinations.file.as_deref(),
        Some(Path::new("destinations.json"))
    );
    assert_eq!(
        destinations.binding.as_deref(),
        Some("bizgraph-destination")
    );
    assert_eq!(
        destinations.binding_root.as_deref(),
        Some(Path::new("/bindings"))
    );
    assert_eq!(destinations.cache_ttl_seconds, 120);
    assert_eq!(destinations.cache_max_entries, 500);

    let connectivity = &settings.connectivity;
    assert_eq!(
        connectivity.proxy.as_deref(),
        Some("http://connectivity-proxy.kyma-system:20003")
    );
    assert_eq!(
        connectivity.token_service_url.as_deref(),
        Some("https://acme.authentication.eu10.hana.ondemand.com")
    );
    assert_eq!(connectivity.client_id.as_deref(), Some("sb-connectivity"));
    assert_eq!(
        connectivity
            .client_secret
            .as_ref()
            .map(|secret| secret.expose()),
        Some("connectivity-settings-secret")
    );
    assert_eq!(
        connectivity.client_secret_env.as_deref(),
        Some("CONNECTIVITY_CLIENT_SECRET")
    );
    assert_eq!(
        connectivity.binding.as_deref(),
        Some("bizgraph-connectivity")
    );

    assert_eq!(settings.tokens.expiry_margin_seconds, 90);
    assert_eq!(settings.tokens.max_entries, 2000);
    assert_eq!(settings.tokens.request_timeout_seconds, 5);

    let saml = &settings.saml;
    assert_eq!(
        saml.signing_key_file.as_deref(),
        Some(Path::new("keys/saml.key"))
    );
    assert_eq!(
        saml.certificate_file.as_deref(),
        Some(Path::new("keys/saml.crt"))
    );
    assert_eq!(saml.issuer, "https://bizgraph.example.com");
    assert_eq!(saml.assertion_lifetime_seconds, 120);

    let identity = &settings.identity;
    assert_eq!(identity.mode, IdentityMode::Development);
    assert_eq!(
        identity.jwt.jwks_url.as_deref(),
        Some("https://acme.accounts.ondemand.com/oauth2/certs")
    );
    assert_eq!(
        identity.jwt.public_key_file.as_deref(),
        Some(Path::new("keys/idp.pem"))
    );
    assert_eq!(
        identity.jwt.issuer.as_deref(),
        Some("https://acme.accounts.ondemand.com")
    );
    assert_eq!(identity.jwt.audiences, ["bizgraph", "sb-bizgraph!t1"]);
    assert_eq!(identity.jwt.leeway_seconds, 10);
    assert_eq!(identity.users.len(), 2);
    let alice = &identity.users[0];
    assert_eq!(alice.name, "alice");
    assert_eq!(alice.password.expose(), "alice-settings-password");
    assert_eq!(alice.tenant.as_deref(), Some("acme"));
    assert_eq!(alice.email.as_deref(), Some("alice@acme.example"));
    assert!(alice.admin, "alice is an administrator");
    assert_eq!(identity.admin_scope, "bizgraph!t1.operator");
    let bob = &identity.users[1];
    assert_eq!(bob.name, "bob");
    assert_eq!(bob.password.expose(), "bob-settings-password");
    assert_eq!(bob.tenant, None);
    assert_eq!(bob.email, None);
    assert!(!bob.admin, "users are no administrators unless marked");

    assert_eq!(settings.upstream.timeout_seconds, 15);
    assert_eq!(settings.upstream.max_response_bytes, 1_048_576);
}

#[test]
fn every_destination_source_and_identity_mode_is_spelled_in_snake_case() {
    for (text, source) in [
        ("file", DestinationSource::File),
        ("environment", DestinationSource::Environment),
        ("service", DestinationSource::Service),
    ] {
        let settings = parse(&format!("[destinations]\nsource = \"{text}\"\n"));
        assert_eq!(settings.destinations.source, source, "source {text}");
    }
    for (text, mode) in [
        ("jwt", IdentityMode::Jwt),
        ("development", IdentityMode::Development),
    ] {
        let settings = parse(&format!("[identity]\nmode = \"{text}\"\n"));
        assert_eq!(settings.identity.mode, mode, "mode {text}");
    }
}

/// Checks that `text` is rejected with an error naming the settings file, `line` and every
/// fragment.
fn check_rejected(case: &str, text: &str, line: usize, fragments: &[&str]) {
    let error = match Settings::from_toml(text, "bizgraph.toml") {
        Ok(_) => panic!("{case}: settings should be rejected"),
        Err(error) => error.to_string(),
    };
    let place = format!("bizgraph.toml: line {line}, column ");
    assert!(
        error.starts_with(&place),
        "{case}: error should start with {place:?}: {error}"
    );
    for fragment in fragments {
        assert!(
            error.contains(fragment),
            "{case}: error should contain {fragment:?}: {error}"
        );
    }
}

#[test]
fn rejects_unknown_keys_naming_the_key_and_its_line() {
    // (case, settings text, line of the culprit, fragments of the error)
    let cases: &[(&str, &str, usize, &[&str])] = &[
        (
            "unknown key at the top level",
            "# bizgraph\n\nlisten = \"0.0.0.0:4000\"\n",
            3,
            &["listen"],
        ),
        (
            "unknown section",
            "[server]\nlisten = \"0.0.0.0:4000\"\n\n[cache]\nttl = 5\n",
            4,
            &["cache"],
        ),
        (
            "unknown key in a section",
            "[server]\nlisten = \"0.0.0.0:4000\"\n\n[tokens]\nexpiry_margin = 30\n",
            5,
            &["expiry_margin"],
        ),
        (
            "unknown key in a nested section",
            "[identity]\nmode = \"jwt\"\n[identity.jwt]\njwks = \"https://idp/certs\"\n",
            4,
            &["jwks"],
        ),
        (
            "unknown key in an array of tables",
            "[[identity.users]]\nname = \"alice\"\npasword = \"x\"\n",
            3,
            &["pasword"],
        ),
        (
            "a misspelled administrator flag",
            "[[identity.users]]\nname = \"alice\"\nadministrator = true\n",
            3,
            &["administrator"],
        ),
        (
            "unknown key as a dotted key",
            "destinations.ttl = 5\n",
            1,
            &["ttl"],
        ),
    ];
    for (case, text, line, fragments) in cases {
        check_rejected(case, text, *line, fragments);
    }
}

#[test]
fn rejects_wrongly_typed_values_with_their_line() {
    // (case, settings text, line of the culprit, fragments of the error)
    let cases: &[(&str, &str, usize, &[&str])] = &[
        (
            "port number as listen address",
            "[server]\nlisten = 4000\n",
            2,
            &[],
        ),
        (
            "listen address without port",
            "[server]\nlisten = \"127.0.0.1\"\n",
            2,
            &[],
        ),
        (
            "text as a number",
            "[tokens]\n# drop tokens early\nexpiry_margin_seconds = \"sixty\"\n",
            3,
            &[],
        ),
        (
            "negative number",
            "[destinations]\ncache_ttl_seconds = -1\n",
            2,
            &[],
        ),
        (
            "unknown destination source",
            "[destinations]\nsource = \"ldap\"\n",
            2,
            &["ldap"],
        ),
        (
            "unknown identity mode",
            "[identity]\nmode = \"saml\"\n",
            2,
            &["saml"],
        ),
        (
            "a string as audience list",
            "[identity.jwt]\naudiences = \"bizgraph\"\n",
            2,
            &[],
        ),
        (
            "a section given as a value",
            "server = \"0.0.0.0:4000\"\n",
            1,
            &[],
        ),
        ("TOML syntax", "[server]\nlisten = \"0.0.0.0:4000\n", 2, &[]),
    ];
    for (case, text, line, fragments) in cases {
        check_rejected(case, text, *line, fragments);
    }
}

#[test]
fn a_mistyped_secret_is_reported_by_line_without_repeating_its_text() {
    // (settings text, line of the culprit)
    let cases = [
        (
            "[[identity.users]]\nname = \"a\"\npassword = [\"settings-secret-value\"]\n",
            3,
        ),
        (
            "[connectivity]\nclient_secret = { value = \"settings-secret-value\" }\n",
            2,
        ),
    ];
    for (text, line) in cases {
        let error = Settings::from_toml(text, "bizgraph.toml")
            .expect_err("a secret must be a string")
            .to_string();
        assert!(
            error.starts_with(&format!("bizgraph.toml: line {line}, column ")),
            "{error}"
        );
        assert!(error.contains("expected a string"), "{error}");
        assert!(!error.contains("settings-secret-value"), "{error}");
    }
}

#[test]
fn debug_of_settings_never_shows_secrets() {
    let settings = parse(FULL);
    for text in [format!("{settings:?}"), format!("{settings:#?}")] {
        for secret in [
            "connectivity-settings-secret",
            "alice-settings-password",
            "bob-settings-password",
        ] {
            assert!(!text.contains(secret), "Debug shows {secret}: {text}");
        }
        // Only the values are hidden; the rest stays readable.
        assert!(text.contains("<redacted>"), "{text}");
        assert!(text.contains("alice"), "{text}");
        assert!(text.contains("sb-connectivity"), "{text}");
    }
    let user = format!("{:?}", settings.identity.users[0]);
    assert!(!user.contains("alice-settings-password"), "{user}");
}

#[test]
fn load_rebases_relative_paths_onto_the_settings_folder_and_keeps_absolute_ones() {
    let folder = TempFolder::new("settings", "rebase");
    let etc = folder.path().join("etc");
    std::fs::create_dir_all(&etc).expect("create the settings folder");
    let absolute = folder.path().join("elsewhere").join("idp.pem");
    let settings_file = etc.join("bizgraph.toml");
    // A TOML literal string takes the absolute path without escaping.
    let text = format!(
        "[destinations]\nfile = \"destinations.json\"\nbinding_root = \"bindings\"\n\n\
         [saml]\nsigning_key_file = \"keys/saml.key\"\ncertificate_file = \"../shared/saml.crt\"\n\n\
         [identity.jwt]\npublic_key_file = '{}'\n",
        absolute.display()
    );
    std::fs::write(&settings_file, text).expect("write the settings file");

    let settings = Settings::load(&settings_file)
        .unwrap_or_else(|error| panic!("settings file should load: {error}"));
    // (setting, loaded path, expected path)
    let cases = [
        (
            "destinations.file",
            &settings.destinations.file,
            etc.join("destinations.json"),
        ),
        (
            "destinations.binding_root",
            &settings.destinations.binding_root,
            etc.join("bindings"),
        ),
        (
            "saml.signing_key_file",
            &settings.saml.signing_key_file,
            etc.join("keys/saml.key"),
        ),
        (
            "saml.certificate_file",
            &settings.saml.certificate_file,
            etc.join("../shared/saml.crt"),
        ),
        (
            "identity.jwt.public_key_file",
            &settings.identity.jwt.public_key_file,
            absolute.clone(),
        ),
    ];
    for (key, loaded, expected) in cases {
        assert_eq!(loaded.as_deref(), Some(expected.as_path()), "{key}");
    }

    // The same text parsed without a file leaves the paths as written.
    let text = std::fs::read_to_string(&settings_file).expect("read the settings file back");
    let parsed = parse(&text);
    assert_eq!(
        parsed.destinations.file.as_deref(),
        Some(Path::new("destinations.json"))
    );
}

#[test]
fn load_leaves_unset_paths_unset() {
    let folder = TempFolder::new("settings", "unset");
    let settings_file = folder.path().join("bizgraph.toml");
    std::fs::write(&settings_file, "[tokens]\nexpiry_margin_seconds = 30\n")
        .expect("write the settings file");
    let settings = Settings::load(&settings_file).expect("a small settings file loads");
    assert_eq!(settings.tokens.expiry_margin_seconds, 30);
    assert_eq!(settings.destinations.file, None);
    assert_eq!(settings.destinations.binding_root, None);
    assert_eq!(settings.saml.signing_key_file, None);
    assert_eq!(settings.saml.certificate_file, None);
    assert_eq!(settings.identity.jwt.public_key_file, None);
}

#[test]
fn load_errors_name_the_file() {
    let folder = TempFolder::new("settings", "errors");
    let absent = folder.path().join("absent.toml");
    let error = Settings::load(&absent)
        .expect_err("an absent file is an error")
        .to_string();
    assert!(error.starts_with(&absent.display().to_string()), "{error}");

    let broken = folder.path().join("broken.toml");
    std::fs::write(&broken, "[server]\n\nport = 4000\n").expect("write the settings file");
    let error = Settings::load(&broken)
        .expect_err("an unknown key is an error")
        .to_string();
    assert!(
        error.starts_with(&format!("{}: line 3, column ", broken.display())),
        "{error}"
    );
    assert!(error.contains("port"), "{error}");
}
