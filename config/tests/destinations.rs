//! Destinations as BTP writes them: every `Authentication` type parsed into its typed fields,
//! unknown properties kept, secrets kept out of `Debug`, and errors that name the place, the
//! destination and the property.

use bizgraph_config::destination::AUTHENTICATION_TYPES;
use bizgraph_config::{
    Authentication, Destination, Origin, ProxyType, SamlMode, TokenService, parse_destinations,
};

/// The file name every test pretends to read.
const FILE: &str = "dest.json";

/// A valid destination placed first in the error cases, so the faulty one sits at index 1.
const GOOD: &str = r#"{
    "Name": "Good",
    "Type": "HTTP",
    "URL": "https://good.example.com",
    "Authentication": "NoAuthentication",
    "ProxyType": "Internet"
}"#;

/// Parses one destination object, given as BTP JSON, from `dest.json`.
fn parse_one(object: &str, origin: Origin) -> Destination {
    let mut list = parse_destinations(&format!("[{object}]"), origin, FILE)
        .unwrap_or_else(|error| panic!("destination should be accepted, got: {error}"));
    assert_eq!(list.len(), 1, "one object in, one destination out");
    list.remove(0)
}

/// The token service of a destination that must have one.
fn token_service(destination: &Destination) -> &TokenService {
    destination
        .authentication
        .token_service()
        .unwrap_or_else(|| panic!("{} should have a token service", destination.name))
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

#[test]
fn no_authentication_collects_headers_queries_sap_client_and_keeps_unknown_properties() {
    let destination = parse_one(
        r#"{
            "Name": "S4_PUBLIC",
            "Type": "HTTP",
            "URL": "https://my300000-api.s4hana.ondemand.com",
            "Authentication": "NoAuthentication",
            "ProxyType": "Internet",
            "Description": "S/4HANA Cloud public API",
            "sap-client": "100",
            "URL.headers.APIKey": "abc123",
            "URL.headers.Accept-Language": "de",
            "URL.queries.sap-language": "DE",
            "URL.queries.$format": "json",
            "URL.headers.": "an empty suffix names nothing",
            "WebIDEEnabled": "true",
            "WebIDEUsage": "odata_gen",
            "HTML5.DynamicDestination": "true"
        }"#,
        Origin::File,
    );
    assert_eq!(destination.name, "S4_PUBLIC");
    assert_eq!(destination.url, "https://my300000-api.s4hana.ondemand.com");
    assert_eq!(destination.authentication, Authentication::NoAuthentication);
    assert_eq!(destination.proxy_type, ProxyType::Internet);
    assert_eq!(destination.sap_client.as_deref(), Some("100"));
    assert_eq!(destination.cloud_connector_location_id, None);
    assert_eq!(
        destination.headers,
        pairs(&[("APIKey", "abc123"), ("Accept-Language", "de")])
    );
    assert_eq!(
        destination.queries,
        pairs(&[("$format", "json"), ("sap-language", "DE")])
    );
    assert!(!destination.is_user_dependent());
    for (name, value) in [
        ("WebIDEEnabled", "true"),
        ("WebIDEUsage", "odata_gen"),
        ("HTML5.DynamicDestination", "true"),
        ("Description", "S/4HANA Cloud public API"),
        ("URL.headers.APIKey", "abc123"),
        ("sap-client", "100"),
    ] {
        assert_eq!(destination.property(name), Some(value), "property {name}");
        assert_eq!(
            destination.properties.get(name).map(String::as_str),
            Some(value),
            "properties[{name}]"
        );
    }
    assert_eq!(destination.property("NotThere"), None);
}

#[test]
fn missing_authentication_and_proxy_type_default_to_no_authentication_over_internet() {
    let destination = parse_one(
        r#"{"Name": "PLAIN", "URL": "http://plain.example.com/sap/opu/odata/sap/API"}"#,
        Origin::File,
    );
    assert_eq!(destination.authentication, Authentication::NoAuthentication);
    assert_eq!(destination.proxy_type, ProxyType::Internet);
    assert!(destination.headers.is_empty());
    assert!(destination.queries.is_empty());
    assert_eq!(destination.sap_client, None);
}

#[test]
fn numbers_and_booleans_written_by_hand_are_taken_as_their_text() {
    let destination = parse_one(
        r#"{"Name": "HAND", "URL": "https://hand.example.com", "sap-client": 100, "WebIDEEnabled": true}"#,
        Origin::File,
    );
    assert_eq!(destination.sap_client.as_deref(), Some("100"));
    assert_eq!(destination.property("WebIDEEnabled"), Some("true"));
}

#[test]
fn basic_authentication_yields_user_and_password() {
    let destination = parse_one(
        r#"{
            "Name": "S4_BASIC",
            "Type": "HTTP",
            "URL": "https://s4.example.com:44300",
            "Authentication": "BasicAuthentication",
            "ProxyType": "Internet",
            "User": "COMM_USER",
            "Password": "Welcome1!"
        }"#,
        Origin::File,
    );
    match &destination.authentication {
        Authentication::BasicAuthentication { user, password } => {
            assert_eq!(user, "COMM_USER");
            assert_eq!(password.expose(), "Welcome1!");
        }
        other => panic!("expected BasicAuthentication, got {}", other.name()),
    }
    assert_eq!(destination.authentication.name(), "BasicAuthentication");
    assert!(!destination.is_user_dependent());
    assert!(destination.authentication.token_service().is_none());
}

#[test]
fn oauth2_client_credentials_yields_the_token_service_with_its_headers_and_queries() {
    let destination = parse_one(
        r#"{
            "Name": "S4_TECHNICAL",
            "Type": "HTTP",
            "URL": "https://my300000-api.s4hana.ondemand.com",
            "Authentication": "OAuth2ClientCredentials",
            "ProxyType": "Internet",
            "tokenServiceURL": "https://my300000-api.s4hana.ondemand.com/sap/bc/sec/oauth2/token",
            "tokenServiceURLType": "Common",
            "clientId": "TECH_CLIENT",
            "clientSecret": "tech-secret-value",
            "scope": "API_BUSINESS_PARTNER_0001",
            "tokenServiceURL.headers.X-Tenant": "t1",
            "tokenServiceURL.queries.resource": "urn:s4",
            "URL.headers.X-Correlation": "bizgraph"
        }"#,
        Origin::File,
    );
    let Authentication::OAuth2ClientCredentials(Some(service)) = &destination.authentication else {
        panic!(
            "expected OAuth2ClientCredentials with a token service, got {:?}",
            destination.authentication.name()
        );
    };
    assert_eq!(
        service.url,
        "https://my300000-api.s4hana.ondemand.com/sap/bc/sec/oauth2/token"
    );
    assert_eq!(service.url_type, "Common");
    assert_eq!(service.client_id.as_deref(), Some("TECH_CLIENT"));
    assert_eq!(
        service.client_secret.as_ref().map(|secret| secret.expose()),
        Some("tech-secret-value")
    );
    assert_eq!(service.scope.as_deref(), Some("API_BUSINESS_PARTNER_0001"));
    assert_eq!(service.headers, pairs(&[("X-Tenant", "t1")]));
    assert_eq!(service.queries, pairs(&[("resource", "urn:s4")]));
    // The destination's own headers do not leak into the token request, and the reverse.
    assert_eq!(destination.headers, pairs(&[("X-Correlation", "bizgraph")]));
    assert!(destination.queries.is_empty());
    assert!(!destination.is_user_dependent());
}

#[test]
fn token_service_url_type_defaults_to_dedicated() {
    let destination = parse_one(
        r#"{
            "Name": "DEDICATED",
            "URL": "https://api.example.com",
            "Authentication": "OAuth2ClientCredentials",
            "tokenServiceURL": "https://sub.authentication.eu10.hana.ondemand.com/oauth/token",
            "clientId": "sb-client",
            "clientSecret": "s"
        }"#,
        Origin::File,
    );
    let service = token_service(&destination);
    assert_eq!(service.url_type, "Dedicated");
    assert_eq!(service.scope, None);
    assert!(service.headers.is_empty());
    assert!(service.queries.is_empty());
}

#[test]
fn token_service_client_id_is_client_id_else_token_service_user_else_client_key() {
    // (properties naming the client, the client id the token service must use)
    let cases: &[(&str, &str)] = &[
        (
            r#""clientId": "from-clientId", "tokenServiceUser": "from-user", "clientKey": "from-key""#,
            "from-clientId",
        ),
        (
            r#""tokenServiceUser": "from-user", "clientKey": "from-key""#,
            "from-user",
        ),
        (r#""clientKey": "from-key""#, "from-key"),
        (
            r#""clientId": "  ", "tokenServiceUser": "from-user""#,
            "from-user",
        ),
    ];
    for (client, expected) in cases {
        let destination = parse_one(
            &format!(
                r#"{{
                    "Name": "CLIENT",
                    "URL": "https://api.example.com",
                    "Authentication": "OAuth2ClientCredentials",
                    "tokenServiceURL": "https://auth.example.com/oauth/token",
                    "clientSecret": "s",
                    {client}
                }}"#
            ),
            Origin::File,
        );
        assert_eq!(
            token_service(&destination).client_id.as_deref(),
            Some(*expected),
            "client given by {client}"
        );
    }
}

#[test]
fn token_service_client_secret_is_client_secret_else_token_service_password() {
    let cases: &[(&str, &str)] = &[
        (
            r#""clientSecret": "from-secret", "tokenServicePassword": "from-password""#,
            "from-secret",
        ),
        (
            r#""tokenServicePassword": "from-password""#,
            "from-password",
        ),
    ];
    for (secret, expected) in cases {
        let destination = parse_one(
            &format!(
                r#"{{
                    "Name": "SECRET",
                    "URL": "https://api.example.com",
                    "Authentication": "OAuth2ClientCredentials",
                    "tokenServiceURL": "https://auth.example.com/oauth/token",
                    "tokenServiceUser": "client",
                    {secret}
                }}"#
            ),
            Origin::File,
        );
        assert_eq!(
            token_service(&destination)
                .client_secret
                .as_ref()
                .map(|secret| secret.expose()),
            Some(*expected),
            "secret given by {secret}"
        );
    }
}

#[test]
fn saml_bearer_assertion_built_locally_yields_every_assertion_property() {
    let destination = parse_one(
        r#"{
            "Name": "S4_SAML",
            "Type": "HTTP",
            "URL": "https://my300000-api.s4hana.ondemand.com",
            "Authentication": "OAuth2SAMLBearerAssertion",
            "ProxyType": "Internet",
            "audience": "https://my300000.s4hana.ondemand.com",
            "authnContextClassRef": "urn:oasis:names:tc:SAML:2.0:ac:classes:PreviousSession",
            "nameIdFormat": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
            "nameQualifier": "bizgraph-idp",
            "userIdSource": "email",
            "assertionIssuer": "bizgraph-gateway",
            "assertionRecipient": "https://my300000-api.s4hana.ondemand.com/sap/bc/sec/oauth2/token",
            "clientKey": "BIZGRAPH_SAML",
            "tokenServiceURL": "https://my300000-api.s4hana.ondemand.com/sap/bc/sec/oauth2/token",
            "tokenServiceURLType": "Dedicated",
            "tokenServiceUser": "BIZGRAPH_SAML",
            "tokenServicePassword": "saml-client-password",
            "sap-client": "100"
        }"#,
        Origin::File,
    );
    let Authentication::OAuth2SAMLBearerAssertion(saml, Some(service)) =
        &destination.authentication
    else {
        panic!(
            "expected OAuth2SAMLBearerAssertion with a token service, got {}",
            destination.authentication.name()
        );
    };
    assert_eq!(saml.mode, SamlMode::Local);
    assert_eq!(
        saml.audience.as_deref(),
        Some("https://my300000.s4hana.ondemand.com")
    );
    assert_eq!(
        saml.authn_context_class_ref.as_deref(),
        Some("urn:oasis:names:tc:SAML:2.0:ac:classes:PreviousSession")
    );
    assert_eq!(
        saml.name_id_format.as_deref(),
        Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")
    );
    assert_eq!(saml.name_qualifier.as_deref(), Some("bizgraph-idp"));
    assert_eq!(saml.user_id_source.as_deref(), Some("email"));
    assert_eq!(saml.assertion_issuer.as_deref(), Some("bizgraph-gateway"));
    assert_eq!(
        saml.assertion_recipient.as_deref(),
        Some("https://my300000-api.s4hana.ondemand.com/sap/bc/sec/oauth2/token")
    );
    assert_eq!(saml.client_key.as_deref(), Some("BIZGRAPH_SAML"));
    assert_eq!(service.client_id.as_deref(), Some("BIZGRAPH_SAML"));
    assert_eq!(
        service.client_secret.as_ref().map(|secret| secret.expose()),
        Some("saml-client-password")
    );
    assert_eq!(destination.sap_client.as_deref(), Some("100"));
    assert!(destination.is_user_dependent());
}

#[test]
fn saml_bearer_assertion_from_the_destination_service_is_brokered_and_needs_no_token_service() {
    let destination = parse_one(
        r#"{
            "Name": "S4_SAML",
            "Type": "HTTP",
            "URL": "https://my300000-api.s4hana.ondemand.com",
            "Authentication": "OAuth2SAMLBearerAssertion",
            "ProxyType": "Internet",
            "nameIdFormat": "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
        }"#,
        Origin::Service,
    );
    let Authentication::OAuth2SAMLBearerAssertion(saml, service) = &destination.authentication
    else {
        panic!(
            "expected OAuth2SAMLBearerAssertion, got {}",
            destination.authentication.name()
        );
    };
    assert_eq!(saml.mode, SamlMode::Brokered);
    assert_eq!(saml.audience, None);
    assert_eq!(service, &None);
    assert!(destination.is_user_dependent());
}

#[test]
fn jwt_bearer_and_user_token_exchange_yield_their_token_service() {
    for kind in ["OAuth2JWTBearer", "OAuth2UserTokenExchange"] {
        let destination = parse_one(
            &format!(
                r#"{{
                    "Name": "USER_{kind}",
                    "Type": "HTTP",
                    "URL": "https://api.cfapps.eu10.hana.ondemand.com",
                    "Authentication": "{kind}",
                    "ProxyType": "Internet",
                    "tokenServiceURL": "https://sub.authentication.eu10.hana.ondemand.com/oauth/token",
                    "tokenServiceURLType": "Dedicated",
                    "clientId": "sb-api!t1",
                    "clientSecret": "api-secret",
                    "scope": "api!t1.read"
                }}"#
            ),
            Origin::File,
        );
        assert_eq!(destination.authentication.name(), kind);
        match (kind, &destination.authentication) {
            ("OAuth2JWTBearer", Authentication::OAuth2JWTBearer(Some(_)))
            | ("OAuth2UserTokenExchange", Authentication::OAuth2UserTokenExchange(Some(_))) => {}
            (_, other) => panic!("{kind} parsed as {other:?}"),
        }
        let service = token_service(&destination);
        assert_eq!(
            service.url,
            "https://sub.authentication.eu10.hana.ondemand.com/oauth/token"
        );
        assert_eq!(service.client_id.as_deref(), Some("sb-api!t1"));
        assert_eq!(service.scope.as_deref(), Some("api!t1.read"));
        assert!(destination.is_user_dependent(), "{kind} is per user");
    }
}

#[test]
fn principal_propagation_on_premise_yields_the_location_id() {
    let destination = parse_one(
        r#"{
            "Name": "ERP_PP",
            "Type": "HTTP",
            "URL": "http://erp.virtual:44300",
            "Authentication": "PrincipalPropagation",
            "ProxyType": "OnPremise",
            "CloudConnectorLocationId": "FRANKFURT",
            "sap-client": "200"
        }"#,
        Origin::File,
    );
    assert_eq!(
        destination.authentication,
        Authentication::PrincipalPropagation
    );
    assert_eq!(destination.proxy_type, ProxyType::OnPremise);
    assert_eq!(
        destination.cloud_connector_location_id.as_deref(),
        Some("FRANKFURT")
    );
    assert_eq!(destination.sap_client.as_deref(), Some("200"));
    assert!(destination.is_user_dependent());
    assert!(destination.authentication.token_service().is_none());
}

#[test]
fn every_supported_authentication_type_parses_under_its_own_name() {
    // Minimal but complete definitions, one per supported type; the list must match the one the
    // error message offers.
    let extra = |kind: &str| -> &'static str {
        match kind {
            "BasicAuthentication" => r#", "User": "u", "Password": "p""#,
            "OAuth2ClientCredentials" | "OAuth2JWTBearer" | "OAuth2UserTokenExchange" => {
                r#", "tokenServiceURL": "https://auth.example.com/oauth/token", "clientId": "c", "clientSecret": "s""#
            }
            "OAuth2SAMLBearerAssertion" => {
                r#", "tokenServiceURL": "https://auth.example.com/oauth/token", "clientKey": "c", "audience": "a""#
            }
            "PrincipalPropagation" => r#", "ProxyType": "OnPremise""#,
            _ => "",
        }
    };
    for kind in AUTHENTICATION_TYPES {
        let destination = parse_one(
            &format!(
                r#"{{"Name": "D", "URL": "http://d.example.com", "Authentication": "{kind}"{}}}"#,
                extra(kind)
            ),
            Origin::File,
        );
        assert_eq!(destination.authentication.name(), *kind);
    }
    assert_eq!(AUTHENTICATION_TYPES.len(), 7);
}

#[test]
fn debug_output_never_shows_secret_values() {
    let destinations = parse_destinations(
        r#"[
            {
                "Name": "BASIC",
                "URL": "https://basic.example.com",
                "Authentication": "BasicAuthentication",
                "User": "alice",
                "Password": "basic-password-value"
            },
            {
                "Name": "OAUTH",
                "URL": "https://oauth.example.com",
                "Authentication": "OAuth2ClientCredentials",
                "tokenServiceURL": "https://auth.example.com/oauth/token",
                "clientId": "client",
                "clientSecret": "client-secret-value",
                "tokenServicePassword": "token-service-password-value"
            },
            {
                "Name": "SAML",
                "URL": "https://saml.example.com",
                "Authentication": "OAuth2SAMLBearerAssertion",
                "audience": "aud",
                "tokenServiceURL": "https://auth.example.com/oauth/token",
                "tokenServiceUser": "client",
                "tokenServicePassword": "saml-password-value"
            }
        ]"#,
        Origin::File,
        FILE,
    )
    .expect("all three destinations are valid");
    let secrets = [
        "basic-password-value",
        "client-secret-value",
        "token-service-password-value",
        "saml-password-value",
    ];
    for destination in &destinations {
        let shown = [
            format!("{destination:?}"),
            format!("{destination:#?}"),
            format!("{:?}", destination.authentication),
            format!("{:?}", destination.authentication.token_service()),
        ];
        assert!(
            shown[0].contains(&destination.name),
            "Debug should still name the destination: {}",
            shown[0]
        );
        for text in &shown {
            for secret in secrets {
                assert!(
                    !text.contains(secret),
                    "Debug of {} shows {secret}: {text}",
                    destination.name
                );
            }
        }
        // The property names stay visible, only their values are hidden.
        let debug = format!("{destination:?}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }
}

/// Parses `[GOOD, faulty]` and checks that the error's text holds every fragment and no secret.
fn check_rejected(case: &str, faulty: &str, origin: Origin, fragments: &[&str]) {
    let json = format!("[{GOOD}, {faulty}]");
    let error = match parse_destinations(&json, origin, FILE) {
        Ok(list) => panic!("{case}: expected an error, got {} destinations", list.len()),
        Err(error) => error.to_string(),
    };
    for fragment in fragments {
        assert!(
            error.contains(fragment),
            "{case}: error should contain {fragment:?}: {error}"
        );
    }
    assert!(
        !error.contains("s3cr3t"),
        "{case}: error shows a secret: {error}"
    );
}

#[test]
fn rejects_faulty_destinations_naming_place_destination_and_property() {
    // (case, faulty destination at index 1, fragments the error must contain)
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "missing URL",
            r#"{"Name": "S4", "Type": "HTTP", "Authentication": "NoAuthentication"}"#,
            &["dest.json[1]: destination 'S4', property URL: missing"],
        ),
        (
            "blank URL",
            r#"{"Name": "S4", "URL": "   "}"#,
            &["dest.json[1]: destination 'S4', property URL: missing"],
        ),
        (
            "relative URL",
            r#"{"Name": "S4", "URL": "/sap/opu/odata/sap/API"}"#,
            &[
                "dest.json[1]",
                "destination 'S4'",
                "property URL",
                "not a valid URL: relative URL without a base",
            ],
        ),
        (
            "URL that is no http",
            r#"{"Name": "S4", "URL": "ftp://files.example.com"}"#,
            &[
                "dest.json[1]",
                "destination 'S4'",
                "property URL",
                "must be an http or https URL",
            ],
        ),
        (
            "URL carrying user and password",
            r#"{"Name": "S4", "URL": "https://alice:s3cr3t@s4.example.com"}"#,
            &[
                "dest.json[1]",
                "destination 'S4'",
                "property URL",
                "must not carry user or password",
                "User and Password",
            ],
        ),
        (
            "URL carrying a user only",
            r#"{"Name": "S4", "URL": "https://alice@s4.example.com"}"#,
            &["property URL", "must not carry user or password"],
        ),
        (
            "unknown Authentication",
            r#"{"Name": "S4", "URL": "https://s4.example.com", "Authentication": "SAPAssertionSSO"}"#,
            &[
                "dest.json[1]",
                "destination 'S4'",
                "property Authentication",
                "'SAPAssertionSSO' is unknown; supported: NoAuthentication, BasicAuthentication, OAuth2ClientCredentials, OAuth2SAMLBearerAssertion, OAuth2JWTBearer, OAuth2UserTokenExchange, PrincipalPropagation",
            ],
        ),
        (
            "unknown ProxyType",
            r#"{"Name": "S4", "URL": "https://s4.example.com", "ProxyType": "PrivateLink"}"#,
            &[
                "dest.json[1]",
                "destination 'S4'",
                "property ProxyType",
                "'PrivateLink' is unknown; expected Internet or OnPremise",
            ],
        ),
        (
            "unsupported Type",
            r#"{"Name": "S4", "Type": "RFC", "URL": "https://s4.example.com"}"#,
            &["dest.json[1]", "destination 'S4'", "property Type", "'RFC'"],
        ),
        (
            "missing Name",
            r#"{"URL": "https://s4.example.com"}"#,
            &["dest.json[1]: destination '', property Name: missing"],
        ),
        (
            "blank Name",
            r#"{"Name": "  ", "URL": "https://s4.example.com"}"#,
            &["dest.json[1]: destination '', property Name: missing"],
        ),
        (
            "duplicate Name",
            r#"{"Name": "Good", "URL": "https://other.example.com"}"#,
            &["dest.json[1]: destination 'Good', property Name: defined twice"],
        ),
        (
            "BasicAuthentication without Password",
            r#"{"Name": "S4", "URL": "https://s4.example.com", "Authentication": "BasicAuthentication", "User": "alice"}"#,
            &["dest.json[1]: destination 'S4', property Password: missing"],
        ),
        (
            "BasicAuthentication without User",
            r#"{"Name": "S4", "URL": "https://s4.example.com", "Authentication": "BasicAuthentication", "Password": "s3cr3t"}"#,
            &["dest.json[1]: destination 'S4', property User: missing"],
        ),
        (
            "OAuth2ClientCredentials without clientSecret",
            r#"{"Name": "S4", "URL": "https://s4.example.com", "Authentication": "OAuth2ClientCredentials",
                "tokenServiceURL": "https://auth.example.com/oauth/token", "clientId": "c"}"#,
            &["dest.json[1]: destination 'S4', property clientSecret: missing"],
        ),
        (
            "OAuth2ClientCredentials without any client id",
            r#"{"Name": "S4", "URL": "https://s4.example.com", "Authentication": "OAuth2ClientCredentials",
                "tokenServiceURL": "https://auth.example.com/oauth/token", "clientSecret": "s3cr3t"}"#,
            &["dest.json[1]: destination 'S4', property clientId: missing"],
        ),
        (
            "OAuth2ClientCredentials without tokenServiceURL",
            r#"{"Name": "S4", "URL": "https://s4.example.com", "Authentication": "OAuth2ClientCredentials",
                "clientId": "c", "clientSecret": "s3cr3t"}"#,
            &["dest.json[1]: destination 'S4', property tokenServiceURL: missing"],
        ),
        (
            "OAuth2JWTBearer without tokenServiceURL",
            r#"{"Name": "S4", "URL": "https://s4.example.com", "Authentication": "OAuth2JWTBearer",
                "clientId": "c", "clientSecret": "s3cr3t"}"#,
            &["dest.json[1]: destination 'S4', property tokenServiceURL: missing"],
        ),
        (
            "bad tokenServiceURL",
            r#"{"Name": "S4", "URL": "https://s4.example.com", "Authentication": "OAuth2ClientCredentials",
                "tokenServiceURL": "auth.example.com/oauth/token", "clientId": "c", "clientSecret": "s3cr3t"}"#,
            &[
                "destination 'S4'",
                "property tokenServiceURL",
                "not a valid URL",
            ],
        ),
        (
            "unknown tokenServiceURLType",
            r#"{"Name": "S4", "URL": "https://s4.example.com", "Authentication": "OAuth2ClientCredentials",
                "tokenServiceURL": "https://auth.example.com/oauth/token", "tokenServiceURLType": "Shared",
                "clientId": "c", "clientSecret": "s3cr3t"}"#,
            &[
                "destination 'S4'",
                "property tokenServiceURLType",
                "expected Dedicated or Common",
            ],
        ),
        (
            "SAML built locally without audience",
            r#"{"Name": "S4", "URL": "https://s4.example.com", "Authentication": "OAuth2SAMLBearerAssertion",
                "tokenServiceURL": "https://auth.example.com/oauth/token", "clientKey": "c"}"#,
            &["dest.json[1]: destination 'S4', property audience: missing"],
        ),
        (
            "SAML built locally without tokenServiceURL",
            r#"{"Name": "S4", "URL": "https://s4.example.com", "Authentication": "OAuth2SAMLBearerAssertion",
                "audience": "a", "clientKey": "c"}"#,
            &["dest.json[1]: destination 'S4', property tokenServiceURL: missing"],
        ),
        (
            "SAML built locally without a client",
            r#"{"Name": "S4", "URL": "https://s4.example.com", "Authentication": "OAuth2SAMLBearerAssertion",
                "audience": "a", "tokenServiceURL": "https://auth.example.com/oauth/token"}"#,
            &["dest.json[1]: destination 'S4', property tokenServiceUser: missing"],
        ),
        (
            "SAML with a bad assertionRecipient",
            r#"{"Name": "S4", "URL": "https://s4.example.com", "Authentication": "OAuth2SAMLBearerAssertion",
                "audience": "a", "clientKey": "c", "tokenServiceURL": "https://auth.example.com/oauth/token",
                "assertionRecipient": "recipient"}"#,
            &[
                "destination 'S4'",
                "property assertionRecipient",
                "not a valid URL",
            ],
        ),
        (
            "PrincipalPropagation over the internet",
            r#"{"Name": "S4", "URL": "https://s4.example.com", "Authentication": "PrincipalPropagation", "ProxyType": "Internet"}"#,
            &[
                "dest.json[1]",
                "destination 'S4'",
                "property Authentication",
                "needs ProxyType OnPremise",
            ],
        ),
        (
            "PrincipalPropagation without ProxyType",
            r#"{"Name": "S4", "URL": "http://s4.virtual:8000", "Authentication": "PrincipalPropagation"}"#,
            &["property Authentication", "needs ProxyType OnPremise"],
        ),
        (
            "OnPremise with an https URL",
            r#"{"Name": "S4", "URL": "https://s4.virtual:44300", "ProxyType": "OnPremise"}"#,
            &[
                "dest.json[1]",
                "destination 'S4'",
                "property URL",
                "must use http://",
            ],
        ),
        (
            "property given as an array",
            r#"{"Name": "S4", "URL": "https://s4.example.com", "scope": ["read", "write"]}"#,
            &["dest.json[1]: destination 'S4', property scope: expected a string, found an array"],
        ),
        (
            "property given as null",
            r#"{"Name": "S4", "URL": "https://s4.example.com", "sap-client": null}"#,
            &["dest.json[1]: destination 'S4', property sap-client: expected a string, found null"],
        ),
        (
            "destination that is no object",
            r#""S4""#,
            &["dest.json[1]: destination '': expected a JSON object, found a string"],
        ),
    ];
    for (case, faulty, fragments) in cases {
        check_rejected(case, faulty, Origin::File, fragments);
    }
}

#[test]
fn token_service_properties_are_required_locally_but_not_when_brokered_by_the_service() {
    // (authentication type and what it lacks; each fails from a file and passes from the service)
    let cases: &[(&str, &str, &str)] = &[
        (
            "OAuth2ClientCredentials without tokenServiceURL",
            r#"{"Name": "S4", "URL": "https://s4.example.com", "Authentication": "OAuth2ClientCredentials"}"#,
            "property tokenServiceURL: missing",
        ),
        (
            "OAuth2UserTokenExchange without tokenServiceURL",
            r#"{"Name": "S4", "URL": "https://s4.example.com", "Authentication": "OAuth2UserTokenExchange"}"#,
            "property tokenServiceURL: missing",
        ),
        (
            "OAuth2SAMLBearerAssertion without audience or token service",
            r#"{"Name": "S4", "URL": "https://s4.example.com", "Authentication": "OAuth2SAMLBearerAssertion"}"#,
            "property tokenServiceURL: missing",
        ),
    ];
    for (case, faulty, fragment) in cases {
        check_rejected(case, faulty, Origin::File, &["destination 'S4'", fragment]);
        check_rejected(
            case,
            faulty,
            Origin::Environment,
            &["destination 'S4'", fragment],
        );
        let destination = parse_one(faulty, Origin::Service);
        assert!(
            destination.authentication.token_service().is_none(),
            "{case}: brokered destination should have no local token service"
        );
    }
}

#[test]
fn client_credentials_from_the_service_keep_a_token_service_when_one_is_given() {
    let destination = parse_one(
        r#"{
            "Name": "S4",
            "URL": "https://s4.example.com",
            "Authentication": "OAuth2ClientCredentials",
            "tokenServiceURL": "https://auth.example.com/oauth/token",
            "clientId": "c",
            "clientSecret": "s"
        }"#,
        Origin::Service,
    );
    assert_eq!(
        token_service(&destination).url,
        "https://auth.example.com/oauth/token"
    );
}

#[test]
fn rejects_invalid_json_with_line_and_column() {
    let json = "[\n  {\n    \"Name\": \"S4\",\n    \"URL\" \"https://s4.example.com\"\n  }\n]";
    let error = parse_destinations(json, Origin::File, FILE)
        .expect_err("a missing colon is invalid JSON")
        .to_string();
    assert!(
        error.starts_with("dest.json: line 4, column 11: invalid JSON"),
        "{error}"
    );
}

#[test]
fn rejects_a_top_level_value_that_is_not_an_array() {
    // (JSON text, what the error says was found)
    let cases: &[(&str, &str)] = &[
        (
            r#"{"Name": "S4", "URL": "https://s4.example.com"}"#,
            "an object",
        ),
        (r#""S4""#, "a string"),
        ("null", "null"),
        ("42", "a number"),
    ];
    for (json, found) in cases {
        let error = parse_destinations(json, Origin::Environment, "destinations")
            .expect_err("only an array is a list of destinations")
            .to_string();
        assert_eq!(
            error,
            format!(
                "destinations: destination '': expected a JSON array of destinations, found {found}"
            ),
            "for {json}"
        );
    }
}

#[test]
fn an_empty_array_is_no_destinations() {
    let list = parse_destinations("[]", Origin::File, FILE).expect("an empty list is valid");
    assert!(list.is_empty());
}

#[test]
fn url_errors_never_repeat_credentials_in_the_url() {
    for url in [
        "https://alice:s3cr3t@host:99999/x",
        "ftp://alice:s3cr3t@host/x",
    ] {
        let json = format!(r#"[{{"Name": "S4", "URL": "{url}"}}]"#);
        let error =
            bizgraph_config::parse_destinations(&json, bizgraph_config::Origin::File, "dest.json")
                .expect_err("a URL with credentials is refused");
        let text = error.to_string();
        assert!(text.contains("destination 'S4', property URL"), "{text}");
        assert!(!text.contains("s3cr3t"), "{text}");
    }
}
