//! End to end with destinations from the BTP Destination service (stand-in): the binding comes
//! from `VCAP_SERVICES`, "find destination" is called with the caller's JWT in `X-user-token`,
//! brokered `authTokens` are used as they are, answers are cached per tenant and, for
//! user-dependent destinations, per user, and a token the service could not obtain is a clear
//! error for that destination only.

use bizgraph_gateway::startup::Environment;
use bizgraph_tests::gateway::{Gateway, write_file};
use bizgraph_tests::idp::Idp;
use bizgraph_tests::keys;
use bizgraph_tests::standins::{
    Destination, DestinationService, DestinationServiceConfig, EchoBackend, GRANT_SAML2_BEARER,
    Mode, SamlSigner, SamlTrust, TokenEndpoint, TokenEndpointConfig, http_client,
};
use serde_json::Value;

const AUDIENCE: &str = "bizgraph";
const SAML_AUDIENCE: &str = "https://s4.example.com/sap/bc/sec/oauth2/token";

async fn call(
    http: &reqwest::Client,
    gateway: &Gateway,
    jwt: &str,
    path: &str,
) -> anyhow::Result<(u16, Value)> {
    let response = http
        .get(gateway.url(&format!("api/{path}")))
        .bearer_auth(jwt)
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

fn bearer(body: &Value) -> String {
    body["headers"]["authorization"]
        .as_str()
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn brokered_tokens_are_per_user_and_cached() -> anyhow::Result<()> {
    let dir = keys::scratch_dir("destination-service");
    let idp = Idp::new("https://idp.example.com/oauth/token")?;
    let trust_key = keys::rsa_with_certificate(&dir, "subaccount-trust")?;
    let tokens = TokenEndpoint::start(
        TokenEndpointConfig::default()
            .client("saml-user", "saml-password")
            .saml(SamlTrust::new(&trust_key.cert_path, SAML_AUDIENCE)),
    )
    .await?;
    let service = DestinationService::start(
        DestinationServiceConfig {
            saml_signer: Some(SamlSigner {
                key_path: trust_key.key_path.clone(),
                cert_path: trust_key.cert_path.clone(),
                issuer: "cfapps.example.com/subaccount".into(),
            }),
            ..DestinationServiceConfig::default()
        },
        &tokens,
    )
    .await?;
    let checked = EchoBackend::start_checking(&tokens).await?;
    let open = EchoBackend::start().await?;
    let token_url = tokens.token_url().to_string();
    service.add_destination(Destination::oauth2_saml_bearer(
        "S4",
        checked.base_url.as_str(),
        &token_url,
        SAML_AUDIENCE,
        "saml-user",
        "saml-user",
        "saml-password",
    ));
    service.add_destination(
        Destination::new("PUBLIC", open.base_url.as_str()).with("sap-client", "200"),
    );

    let public_key = write_file(&dir, "idp.pem", idp.rsa_public_pem())?;
    let settings = format!(
        r#"
[destinations]
source = "service"
cache_ttl_seconds = 300

[identity.jwt]
public_key_file = "{public_key}"
audiences = ["{AUDIENCE}"]
"#
    );
    let environment = Environment {
        vcap_services: Some(service.vcap_services()),
        ..Environment::default()
    };
    let gateway = Gateway::start(&settings, environment).await?;
    let http = http_client()?;
    let alice = idp.user_token("tenant-a", "alice", AUDIENCE, 600);
    let bob = idp.user_token("tenant-a", "bob", AUDIENCE, 600);

    // Each user's call carries a token the service obtained for that user.
    let (status, first) = call(&http, &gateway, &alice, "S4/A_SalesOrder").await?;
    assert_eq!(status, 200, "{first}");
    let (status, again) = call(&http, &gateway, &alice, "S4/A_SalesOrder").await?;
    assert_eq!(status, 200, "{again}");
    let (status, of_bob) = call(&http, &gateway, &bob, "S4/A_SalesOrder").await?;
    assert_eq!(status, 200, "{of_bob}");
    let grant = |body: &Value| tokens.grant_of(&bearer(body)).expect("token issued");
    assert_eq!(grant(&first).subject.as_deref(), Some("alice"));
    assert_eq!(grant(&first).grant_type, GRANT_SAML2_BEARER);
    assert_eq!(
        bearer(&first),
        bearer(&again),
        "the answer is cached for alice"
    );
    assert_eq!(grant(&of_bob).subject.as_deref(), Some("bob"));

    // One find call per user, each with that user's JWT.
    let calls: Vec<_> = service
        .calls()
        .into_iter()
        .filter(|c| c.name == "S4")
        .collect();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].user_token.as_deref(), Some(alice.as_str()));
    assert_eq!(calls[1].user_token.as_deref(), Some(bob.as_str()));
    assert!(
        calls.iter().all(|c| c
            .headers
            .get("authorization")
            .is_some_and(|a| a.starts_with("Bearer "))),
        "the service is called with its own client-credentials token"
    );

    // A destination without user-dependent credentials is shared within the tenant.
    for jwt in [&alice, &bob] {
        let (status, body) = call(&http, &gateway, jwt, "PUBLIC/items").await?;
        assert_eq!(status, 200, "{body}");
        assert!(
            body["query"]
                .as_str()
                .is_some_and(|q| q.contains("sap-client=200"))
        );
        assert!(body["headers"]["authorization"].is_null());
    }
    assert_eq!(service.call_count_for("PUBLIC"), 1);

    // When the service cannot obtain the user's token, its `error` is reported for that
    // destination and nothing is cached.
    tokens.set_mode(Mode::Down);
    let carol = idp.user_token("tenant-a", "carol", AUDIENCE, 600);
    let (status, body) = call(&http, &gateway, &carol, "S4/A_SalesOrder").await?;
    assert_eq!(status, 502, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("destination 'S4'"), "{message}");
    assert!(
        message.contains("destination service could not provide a token"),
        "{message}"
    );
    // Others keep working from the cache meanwhile.
    let (status, _) = call(&http, &gateway, &alice, "S4/A_SalesOrder").await?;
    assert_eq!(status, 200);
    tokens.set_mode(Mode::Normal);
    let (status, body) = call(&http, &gateway, &carol, "S4/A_SalesOrder").await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(grant(&body).subject.as_deref(), Some("carol"));

    // Unknown names are 404, as the service says.
    let (status, body) = call(&http, &gateway, &alice, "MISSING/x").await?;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "DESTINATION_NOT_FOUND");
    Ok(())
}
