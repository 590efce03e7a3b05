//! Service bindings from `VCAP_SERVICES` and from Kubernetes binding folders: the Destination and
//! Connectivity credentials they yield, picking one binding among several, errors naming the
//! binding and the credential, and secrets kept out of `Debug`.

mod common;

use common::TempFolder;

use std::path::PathBuf;

use bizgraph_config::binding::{bindings_from_folder, bindings_from_vcap, find_binding};
use bizgraph_config::{Binding, ConnectivityCredentials, DestinationServiceCredentials};

/// `VCAP_SERVICES` as Cloud Foundry sets it for an app bound to a destination and a connectivity
/// instance (trimmed of nothing the gateway reads).
const VCAP: &str = r#"{
  "destination": [
    {
      "label": "destination",
      "provider": null,
      "plan": "lite",
      "name": "bizgraph-destination",
      "tags": ["destination", "conn", "connsvc"],
      "instance_guid": "0f3c9d0e-6b7a-4c1e-9a55-3a2b1c0d9e8f",
      "instance_name": "bizgraph-destination",
      "binding_guid": "5d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6",
      "binding_name": null,
      "credentials": {
        "clientid": "sb-clone0f3c9d0e!b12345|destination-xsappname!b62",
        "clientsecret": "destination-secret-value",
        "uri": "https://destination-configuration.cfapps.eu10.hana.ondemand.com",
        "url": "https://acme.authentication.eu10.hana.ondemand.com",
        "identityzone": "acme",
        "tenantid": "7e8f9a0b-1c2d-3e4f-5a6b-7c8d9e0f1a2b",
        "tenantmode": "dedicated",
        "xsappname": "clone0f3c9d0e!b12345|destination-xsappname!b62",
        "verificationkey": "-----BEGIN PUBLIC KEY-----MIIB-----END PUBLIC KEY-----"
      },
      "syslog_drain_url": null,
      "volume_mounts": []
    }
  ],
  "connectivity": [
    {
      "label": "connectivity",
      "provider": null,
      "plan": "lite",
      "name": "bizgraph-connectivity",
      "tags": ["connectivity", "conn", "connsvc"],
      "credentials": {
        "clientid": "sb-clone1a2b3c4d!b12345|connectivity!b17",
        "clientsecret": "connectivity-secret-value",
        "onpremise_proxy_host": "connectivityproxy.internal.cf.eu10.hana.ondemand.com",
        "onpremise_proxy_http_port": "20003",
        "onpremise_proxy_ldap_port": "20001",
        "onpremise_proxy_port": "20003",
        "onpremise_proxy_rfc_port": "20001",
        "onpremise_socks5_proxy_port": "20004",
        "token_service_domain": "authentication.eu10.hana.ondemand.com",
        "token_service_url": "https://acme.authentication.eu10.hana.ondemand.com",
        "url": "https://acme.authentication.eu10.hana.ondemand.com/legacy",
        "identityzone": "acme",
        "xsappname": "clone1a2b3c4d!b12345|connectivity!b17"
      },
      "syslog_drain_url": null,
      "volume_mounts": []
    }
  ]
}"#;

fn vcap(json: &str) -> Vec<Binding> {
    bindings_from_vcap(json)
        .unwrap_or_else(|error| panic!("VCAP_SERVICES should be accepted, got: {error}"))
}

/// One binding of `label` from a `VCAP_SERVICES` value holding a single binding per label.
fn only<'a>(bindings: &'a [Binding], label: &str) -> &'a Binding {
    find_binding(bindings, label, None)
        .unwrap_or_else(|error| panic!("one '{label}' binding expected, got: {error}"))
}

/// `VCAP_SERVICES` with one binding of `label` named `name` and the given credentials object.
fn one_binding(label: &str, name: &str, credentials: &str) -> String {
    format!(
        r#"{{"{label}": [{{"label": "{label}", "name": "{name}", "credentials": {credentials}}}]}}"#
    )
}

#[test]
fn vcap_services_yields_destination_service_credentials() {
    let bindings = vcap(VCAP);
    assert_eq!(bindings.len(), 2);
    let binding = only(&bindings, "destination");
    assert_eq!(binding.name, "bizgraph-destination");
    assert_eq!(binding.place, "VCAP_SERVICES");
    let credentials =
        DestinationServiceCredentials::from_binding(binding).expect("complete destination binding");
    assert_eq!(
        credentials.uri,
        "https://destination-configuration.cfapps.eu10.hana.ondemand.com"
    );
    assert_eq!(
        credentials.token_url,
        "https://acme.authentication.eu10.hana.ondemand.com"
    );
    assert_eq!(
        credentials.client_id,
        "sb-clone0f3c9d0e!b12345|destination-xsappname!b62"
    );
    assert_eq!(
        credentials.client_secret.expose(),
        "destination-secret-value"
    );
}

#[test]
fn vcap_services_yields_connectivity_credentials_preferring_token_service_url() {
    let bindings = vcap(VCAP);
    let binding = only(&bindings, "connectivity");
    assert_eq!(binding.name, "bizgraph-connectivity");
    let credentials =
        ConnectivityCredentials::from_binding(binding).expect("complete connectivity binding");
    assert_eq!(
        credentials.proxy_host,
        "connectivityproxy.internal.cf.eu10.hana.ondemand.com"
    );
    assert_eq!(credentials.proxy_port, 20003);
    assert_eq!(
        credentials.token_url, "https://acme.authentication.eu10.hana.ondemand.com",
        "token_service_url wins over url"
    );
    assert_eq!(
        credentials.client_id,
        "sb-clone1a2b3c4d!b12345|connectivity!b17"
    );
    assert_eq!(
        credentials.client_secret.expose(),
        "connectivity-secret-value"
    );
}

/// Reads connectivity credentials from a binding whose credentials hold `extra` besides the host
/// and the client.
fn connectivity(extra: &str) -> Result<ConnectivityCredentials, String> {
    let json = one_binding(
        "connectivity",
        "conn",
        &format!(
            r#"{{"onpremise_proxy_host": "proxy.internal", "clientid": "c", "clientsecret": "s"{extra}}}"#
        ),
    );
    let bindings = vcap(&json);
    ConnectivityCredentials::from_binding(only(&bindings, "connectivity"))
        .map_err(|error| error.to_string())
}

#[test]
fn connectivity_port_is_read_as_string_or_number_and_token_url_falls_back_to_url() {
    // (credentials besides host and client, expected port, expected token URL)
    let cases: &[(&str, u16, &str)] = &[
        (
            r#", "onpremise_proxy_http_port": "20003", "url": "https://u""#,
            20003,
            "https://u",
        ),
        (
            r#", "onpremise_proxy_http_port": 20003, "url": "https://u""#,
            20003,
            "https://u",
        ),
        (
            r#", "onpremise_proxy_port": "20005", "url": "https://u""#,
            20005,
            "https://u",
        ),
        (
            r#", "onpremise_proxy_port": 20005, "onpremise_proxy_http_port": "20003", "url": "https://u""#,
            20003,
            "https://u",
        ),
        (
            r#", "onpremise_proxy_http_port": "20003", "token_service_url": "https://t", "url": "https://u""#,
            20003,
            "https://t",
        ),
        (
            r#", "onpremise_proxy_http_port": "20003", "token_service_url": "", "url": "https://u""#,
            20003,
            "https://u",
        ),
    ];
    for (extra, port, token_url) in cases {
        let credentials = connectivity(extra)
            .unwrap_or_else(|error| panic!("credentials {extra} should be accepted: {error}"));
        assert_eq!(credentials.proxy_port, *port, "port from {extra}");
        assert_eq!(credentials.token_url, *token_url, "token URL from {extra}");
        assert_eq!(credentials.proxy_host, "proxy.internal");
    }
}

#[test]
fn rejects_connectivity_credentials_naming_binding_and_credential() {
    // (credentials besides host and client, fragments the error must contain)
    let cases: &[(&str, &[&str])] = &[
        (
            r#", "onpremise_proxy_http_port": "proxy", "url": "https://u""#,
            &[
                "VCAP_SERVICES: binding 'conn', property credentials.onpremise_proxy_http_port",
                "'proxy' is not a port number",
            ],
        ),
        (
            r#", "onpremise_proxy_http_port": 70000, "url": "https://u""#,
            &[
                "binding 'conn'",
                "credentials.onpremise_proxy_http_port",
                "'70000' is not a port number",
            ],
        ),
        (
            r#", "url": "https://u""#,
            &[
                "binding 'conn'",
                "credentials.onpremise_proxy_http_port: missing",
            ],
        ),
        (
            r#", "onpremise_proxy_http_port": "20003""#,
            &["VCAP_SERVICES: binding 'conn', property credentials.url: missing"],
        ),
    ];
    for (extra, fragments) in cases {
        let error = match connectivity(extra) {
            Ok(credentials) => panic!(
                "credentials {extra} should be rejected, got port {}",
                credentials.proxy_port
            ),
            Err(error) => error,
        };
        for fragment in *fragments {
            assert!(
                error.contains(fragment),
                "{extra}: error should contain {fragment:?}: {error}"
            );
        }
    }
}

#[test]
fn rejects_destination_credentials_missing_a_key_naming_binding_and_credential() {
    let complete = [
        ("uri", "https://destination-configuration.example.com"),
        ("url", "https://acme.authentication.example.com"),
        ("clientid", "sb-destination"),
        ("clientsecret", "destination-secret-value"),
    ];
    for missing in ["uri", "url", "clientid", "clientsecret"] {
        for replacement in [None, Some(r#""""#), Some(r#""   ""#)] {
            let fields: Vec<String> = complete
                .iter()
                .filter_map(|(key, value)| {
                    if *key != missing {
                        Some(format!(r#""{key}": "{value}""#))
                    } else {
                        replacement.map(|text| format!(r#""{key}": {text}"#))
                    }
                })
                .collect();
            let json = one_binding(
                "destination",
                "my-destination",
                &format!("{{{}}}", fields.join(", ")),
            );
            let bindings = vcap(&json);
            let error = DestinationServiceCredentials::from_binding(only(&bindings, "destination"))
                .expect_err("an incomplete binding is an error")
                .to_string();
            assert_eq!(
                error,
                format!(
                    "VCAP_SERVICES: binding 'my-destination', property credentials.{missing}: missing"
                ),
                "{missing} given as {replacement:?}"
            );
            assert!(!error.contains("destination-secret-value"), "{error}");
        }
    }
}

#[test]
fn rejects_a_credential_that_is_not_a_string() {
    let json = one_binding(
        "destination",
        "my-destination",
        r#"{"uri": ["https://a"], "url": "https://u", "clientid": "c", "clientsecret": "s"}"#,
    );
    let bindings = vcap(&json);
    let error = DestinationServiceCredentials::from_binding(only(&bindings, "destination"))
        .expect_err("an array is no URI")
        .to_string();
    assert_eq!(
        error,
        "VCAP_SERVICES: binding 'my-destination', property credentials.uri: expected a string"
    );
}

#[test]
fn rejects_malformed_vcap_services() {
    // (case, VCAP_SERVICES text, the exact start of the error)
    let cases: &[(&str, &str, &str)] = &[
        (
            "invalid JSON",
            "{\n  \"destination\": [\n    {\"name\": \"d\",, \"credentials\": {}}\n  ]\n}",
            "VCAP_SERVICES: line 3, column 18: invalid JSON",
        ),
        (
            "credentials not an object",
            r#"{"destination": [{"name": "my-destination", "credentials": "clientid=c"}]}"#,
            "VCAP_SERVICES: binding 'my-destination', property credentials: expected an object",
        ),
        (
            "credentials missing",
            r#"{"destination": [{"name": "my-destination"}]}"#,
            "VCAP_SERVICES: binding 'my-destination', property credentials: missing",
        ),
        (
            "binding not an object",
            r#"{"destination": ["my-destination"]}"#,
            "VCAP_SERVICES: binding 'destination[0]': expected an object",
        ),
        (
            "label not holding an array",
            r#"{"destination": {"name": "my-destination"}}"#,
            "VCAP_SERVICES: binding '', property destination: expected an array of bindings",
        ),
        (
            "top level not an object",
            r#"[{"name": "my-destination"}]"#,
            "VCAP_SERVICES: binding '': expected a JSON object of service labels",
        ),
    ];
    for (case, json, expected) in cases {
        let error = match bindings_from_vcap(json) {
            Ok(bindings) => panic!("{case}: expected an error, got {bindings:?}"),
            Err(error) => error.to_string(),
        };
        assert!(
            error.starts_with(expected),
            "{case}: expected {expected:?}, got {error:?}"
        );
    }
}

#[test]
fn a_binding_without_a_name_is_named_by_label_and_index() {
    let bindings = vcap(r#"{"destination": [{"credentials": {}}, {"credentials": {}}]}"#);
    let names: Vec<&str> = bindings.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["destination[0]", "destination[1]"]);
    assert!(bindings.iter().all(|b| b.label == "destination"));
}

#[test]
fn the_label_inside_a_binding_wins_over_the_key_it_is_listed_under() {
    let bindings =
        vcap(r#"{"user-provided": [{"name": "d", "label": "destination", "credentials": {}}]}"#);
    assert_eq!(only(&bindings, "destination").name, "d");
}

/// Two destination bindings (without names, so named by index unless `named`) and one
/// connectivity binding.
fn two_destinations(named: bool) -> Vec<Binding> {
    let name = |n: &str| {
        if named {
            format!(r#""name": "{n}", "#)
        } else {
            String::new()
        }
    };
    vcap(&format!(
        r#"{{
            "destination": [
                {{{}"label": "destination", "credentials": {{"uri": "https://first"}}}},
                {{{}"label": "destination", "credentials": {{"uri": "https://second"}}}}
            ],
            "connectivity": [{{"name": "conn", "label": "connectivity", "credentials": {{}}}}]
        }}"#,
        name("dest-a"),
        name("dest-b"),
    ))
}

#[test]
fn two_destination_bindings_without_a_chosen_name_ask_to_name_one() {
    for named in [false, true] {
        let bindings = two_destinations(named);
        let error = find_binding(&bindings, "destination", None)
            .expect_err("two candidates and no name is ambiguous")
            .to_string();
        assert!(
            error.contains("several 'destination' bindings; name the one to use in the settings"),
            "{error}"
        );
        assert!(error.starts_with("VCAP_SERVICES"), "{error}");
        // The only connectivity binding needs no name.
        assert_eq!(
            find_binding(&bindings, "connectivity", None)
                .expect("one connectivity binding")
                .name,
            "conn"
        );
    }
}

#[test]
fn finds_a_binding_by_name() {
    let bindings = two_destinations(true);
    // (label, name, expected uri credential)
    let cases = [
        ("destination", "dest-a", "https://first"),
        ("destination", "dest-b", "https://second"),
    ];
    for (label, name, uri) in cases {
        let binding = find_binding(&bindings, label, Some(name))
            .unwrap_or_else(|error| panic!("{name} should be found: {error}"));
        assert_eq!(binding.name, name);
        assert_eq!(
            binding.credentials.get("uri").and_then(|v| v.as_str()),
            Some(uri)
        );
    }
    let unnamed = two_destinations(false);
    assert_eq!(
        find_binding(&unnamed, "destination", Some("destination[1]"))
            .expect("the fallback name finds the binding")
            .credentials
            .get("uri")
            .and_then(|v| v.as_str()),
        Some("https://second")
    );
}

#[test]
fn rejects_a_binding_that_is_not_there_naming_label_and_name() {
    let bindings = two_destinations(true);
    // (label, name, fragments)
    let cases: &[(&str, Option<&str>, &[&str])] = &[
        (
            "destination",
            Some("dest-c"),
            &["binding 'dest-c'", "no 'destination' binding found"],
        ),
        (
            "connectivity",
            Some("dest-a"),
            &["binding 'dest-a'", "no 'connectivity' binding found"],
        ),
        ("xsuaa", None, &["no 'xsuaa' binding found"]),
    ];
    for (label, name, fragments) in cases {
        let error = find_binding(&bindings, label, *name)
            .expect_err("no such binding")
            .to_string();
        for fragment in *fragments {
            assert!(
                error.contains(fragment),
                "{label} {name:?}: error should contain {fragment:?}: {error}"
            );
        }
    }
}

#[test]
fn debug_of_bindings_and_credentials_never_shows_secrets() {
    let bindings = vcap(VCAP);
    let destination = DestinationServiceCredentials::from_binding(only(&bindings, "destination"))
        .expect("complete destination binding");
    let connectivity = ConnectivityCredentials::from_binding(only(&bindings, "connectivity"))
        .expect("complete connectivity binding");
    let shown = [
        format!("{bindings:?}"),
        format!("{bindings:#?}"),
        format!("{destination:?}"),
        format!("{connectivity:#?}"),
    ];
    for text in &shown {
        for secret in ["destination-secret-value", "connectivity-secret-value"] {
            assert!(!text.contains(secret), "Debug shows {secret}: {text}");
        }
    }
    // The keys stay visible, so a missing credential can be told from a hidden one.
    assert!(shown[0].contains("clientsecret"), "{}", shown[0]);
    assert!(shown[0].contains("bizgraph-destination"), "{}", shown[0]);
}

#[test]
fn kubernetes_binding_folders_yield_destination_and_connectivity_credentials() {
    let root = TempFolder::new("bindings", "layout");
    // As the SAP BTP service operator writes it: one file per key, values without quotes and
    // often with a trailing newline.
    write_binding(
        &root,
        "my-dest",
        &[
            ("type", "destination\n"),
            (
                "clientid",
                "sb-clone0f3c9d0e!b12345|destination-xsappname!b62",
            ),
            ("clientsecret", "folder-destination-secret\n"),
            (
                "uri",
                "https://destination-configuration.cfapps.eu10.hana.ondemand.com",
            ),
            (
                "url",
                "https://acme.authentication.eu10.hana.ondemand.com\n",
            ),
            (".metadata", r#"{"credentialProperties": []}"#),
        ],
    );
    write_binding(
        &root,
        "my-conn",
        &[
            ("type", "connectivity"),
            ("clientid", "sb-connectivity"),
            ("clientsecret", "folder-connectivity-secret"),
            ("onpremise_proxy_host", "connectivity-proxy.kyma-system"),
            ("onpremise_proxy_http_port", "20003\n"),
            (
                "token_service_url",
                "https://acme.authentication.example.com",
            ),
        ],
    );
    // Hidden folders (the `..data` of a mounted secret) are not bindings.
    write_binding(&root, "..data", &[("clientid", "ignored")]);
    std::fs::write(root.path().join("README"), "a file beside the folders")
        .expect("write a stray file");

    let bindings = bindings_from_folder(root.path())
        .unwrap_or_else(|error| panic!("binding root should be accepted: {error}"));
    let names: Vec<&str> = bindings.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["my-conn", "my-dest"]);

    let binding = only(&bindings, "destination");
    assert_eq!(binding.name, "my-dest");
    assert_eq!(
        binding.place,
        root.path().join("my-dest").display().to_string()
    );
    assert!(
        !binding.credentials.contains_key(".metadata"),
        "hidden files are not credentials"
    );
    let credentials =
        DestinationServiceCredentials::from_binding(binding).expect("complete destination folder");
    assert_eq!(
        credentials.client_id,
        "sb-clone0f3c9d0e!b12345|destination-xsappname!b62"
    );
    assert_eq!(
        credentials.client_secret.expose(),
        "folder-destination-secret"
    );
    assert_eq!(
        credentials.uri,
        "https://destination-configuration.cfapps.eu10.hana.ondemand.com"
    );
    assert_eq!(
        credentials.token_url,
        "https://acme.authentication.eu10.hana.ondemand.com"
    );

    let connectivity = ConnectivityCredentials::from_binding(only(&bindings, "connectivity"))
        .expect("complete connectivity folder");
    assert_eq!(connectivity.proxy_host, "connectivity-proxy.kyma-system");
    assert_eq!(connectivity.proxy_port, 20003);
    assert_eq!(
        connectivity.token_url,
        "https://acme.authentication.example.com"
    );

    let debug = format!("{bindings:?}");
    assert!(!debug.contains("folder-destination-secret"), "{debug}");
    assert!(!debug.contains("folder-connectivity-secret"), "{debug}");
}

#[test]
fn kubernetes_binding_folder_may_name_its_service_in_a_label_file() {
    let root = TempFolder::new("bindings", "label");
    write_binding(
        &root,
        "dest",
        &[("label", "destination"), ("uri", "https://u")],
    );
    let bindings = bindings_from_folder(root.path()).expect("a label file names the service");
    assert_eq!(only(&bindings, "destination").name, "dest");
}

#[test]
fn rejects_a_kubernetes_binding_folder_without_type_naming_the_folder() {
    let root = TempFolder::new("bindings", "untyped");
    write_binding(&root, "good", &[("type", "destination")]);
    let broken = write_binding(
        &root,
        "broken",
        &[("clientid", "c"), ("clientsecret", "untyped-secret-value")],
    );
    let error = bindings_from_folder(root.path())
        .expect_err("a binding folder needs a type file")
        .to_string();
    assert_eq!(
        error,
        format!(
            "{}: binding 'broken', property type: missing: the folder must hold a file named type",
            broken.display()
        )
    );
    assert!(!error.contains("untyped-secret-value"));
}

#[test]
fn rejects_a_binding_root_that_does_not_exist_naming_it() {
    let root = TempFolder::new("bindings", "absent");
    let missing = root.path().join("no-such-root");
    let error = bindings_from_folder(&missing)
        .expect_err("an absent root is an error")
        .to_string();
    assert!(error.starts_with(&missing.display().to_string()), "{error}");
}

/// Writes `files` (name, content) into the sub-folder `binding` of `root`.
fn write_binding(root: &TempFolder, binding: &str, files: &[(&str, &str)]) -> PathBuf {
    let folder = root.path().join(binding);
    std::fs::create_dir_all(&folder).expect("create the binding folder");
    for (name, content) in files {
        std::fs::write(folder.join(name), content).expect("write a binding file");
    }
    folder
}
