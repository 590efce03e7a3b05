//! SAML bearer assertions end to end: keys from the real `openssl` CLI, assertions signed by the
//! gateway and checked by an independent XML-DSig implementation (signxml, through
//! `tests/python/verify_saml.py`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bizgraph_gateway::saml::{
    AssertionRequest, SamlError, SignedAssertion, SigningKey, sign_assertion,
};
use serde_json::Value;

const VERIFIER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/python/verify_saml.py"
);
const PREVIOUS_SESSION: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:PreviousSession";
const EMAIL_FORMAT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
/// 2024-03-01T12:00:00Z, a fixed instant so the expected timestamps can be spelled out.
const FIXED_NOW: u64 = 1_709_294_400;

/// A scratch directory that is removed again when the test ends, pass or fail.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        // Tests run in parallel threads of one process, so the process id alone is not unique.
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("bizgraph-saml-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        Self(path)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Cleanup is best effort; a leftover directory in /tmp must not fail the test.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A freshly generated RSA key and its self-signed certificate, as files and as PEM text.
struct KeyFiles {
    dir: TempDir,
    key_pem: String,
    cert_pem: String,
}

impl KeyFiles {
    fn generate() -> Self {
        let dir = TempDir::new();
        let (key, cert) = (dir.path("key.pem"), dir.path("cert.pem"));
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            path_str(&key),
            "-out",
            path_str(&cert),
            "-days",
            "2",
            "-subj",
            "/CN=test",
        ]);
        Self {
            key_pem: read(&key),
            cert_pem: read(&cert),
            dir,
        }
    }

    fn cert_path(&self) -> PathBuf {
        self.dir.path("cert.pem")
    }

    fn signing_key(&self) -> SigningKey {
        SigningKey::from_pem(&self.key_pem, &self.cert_pem).expect("the openssl key loads")
    }

    /// The same key in the traditional PKCS#1 encoding.
    fn pkcs1_key_pem(&self) -> String {
        let out = self.dir.path("key-pkcs1.pem");
        openssl(&[
            "rsa",
            "-in",
            path_str(&self.dir.path("key.pem")),
            "-traditional",
            "-out",
            path_str(&out),
        ]);
        read(&out)
    }
}

fn openssl(args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl CLI runs");
    assert!(output.status.success(), "openssl {args:?}: {output:?}");
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).expect("read a generated PEM file")
}

/// Runs the signxml verifier on `xml` against the certificate at `cert`.
fn run_verifier(xml: &str, cert: &Path) -> Output {
    let mut child = Command::new("python3")
        .arg(VERIFIER)
        .arg("--cert")
        .arg(cert)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(xml.as_bytes())
        .expect("write the assertion to the verifier");
    child.wait_with_output().expect("the verifier finishes")
}

/// Verifies `xml` and returns the fields the verifier read from the signed tree.
fn verified_fields(xml: &str, cert: &Path) -> Value {
    let output = run_verifier(xml, cert);
    assert!(
        output.status.success(),
        "signxml rejected the assertion: {}\n{xml}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the verifier prints JSON")
}

/// Asserts that the verifier rejects `xml` the way its contract says: exit 1, one reason line.
fn assert_rejected(xml: &str, cert: &Path) -> String {
    let output = run_verifier(xml, cert);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(output.stdout.is_empty(), "{output:?}");
    let reason = String::from_utf8(output.stderr).expect("UTF-8 stderr");
    assert_eq!(reason.trim_end().lines().count(), 1, "{reason}");
    reason
}

fn fixed_now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(FIXED_NOW)
}

fn request<'a>(attributes: &'a [(&'a str, &'a str)]) -> AssertionRequest<'a> {
    AssertionRequest {
        issuer: "bizgraph-gateway",
        name_id: "alice@example.com",
        name_id_format: EMAIL_FORMAT,
        name_qualifier: None,
        audience: "https://tenant.authentication.eu10.hana.ondemand.com",
        recipient: "https://tenant.authentication.eu10.hana.ondemand.com/oauth/token/alias/x",
        authn_context_class_ref: PREVIOUS_SESSION,
        attributes,
        now: fixed_now(),
        lifetime: Duration::from_secs(300),
    }
}

fn sign(request: &AssertionRequest<'_>, key: &SigningKey) -> SignedAssertion {
    sign_assertion(request, key).expect("the assertion is signed")
}

fn assert_is_assertion_id(id: &str) {
    assert_eq!(id.len(), 33, "{id}");
    assert!(id.starts_with('_'), "{id}");
    assert!(
        id[1..]
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
        "{id}"
    );
}

#[test]
fn signxml_accepts_the_assertion_and_every_field_round_trips() {
    let keys = KeyFiles::generate();
    let attributes = [
        ("mail", "alice@example.com"),
        ("groups", "buyers"),
        ("groups", "admins"),
    ];
    let mut req = request(&attributes);
    req.name_qualifier = Some("tenant.example.com");
    let signed = sign(&req, &keys.signing_key());

    assert_is_assertion_id(&signed.id);
    assert!(signed.xml.starts_with("<saml:Assertion "), "{}", signed.xml);
    assert_eq!(
        signed.not_on_or_after,
        UNIX_EPOCH + Duration::from_secs(FIXED_NOW + 300)
    );

    let fields = verified_fields(&signed.xml, &keys.cert_path());
    let expected = serde_json::json!({
        "id": signed.id,
        "issue_instant": "2024-03-01T12:00:00Z",
        "issuer": "bizgraph-gateway",
        "name_id": "alice@example.com",
        "name_id_format": EMAIL_FORMAT,
        "name_qualifier": "tenant.example.com",
        "audience": "https://tenant.authentication.eu10.hana.ondemand.com",
        "recipient": "https://tenant.authentication.eu10.hana.ondemand.com/oauth/token/alias/x",
        "not_on_or_after": "2024-03-01T12:05:00Z",
        "not_before": "2024-03-01T11:59:00Z",
        "authn_context_class_ref": PREVIOUS_SESSION,
        "session_index": signed.id,
        "subject_confirmation_method": "urn:oasis:names:tc:SAML:2.0:cm:bearer",
    });
    assert_eq!(fields, expected);

    // The verifier's JSON has no room for attributes, so their rendering is checked on the XML
    // signxml accepted: repeated names are grouped into one multi-valued Attribute.
    assert!(
        signed.xml.contains(
            "<saml:AttributeStatement><saml:Attribute Name=\"mail\"><saml:AttributeValue>\
             alice@example.com</saml:AttributeValue></saml:Attribute><saml:Attribute \
             Name=\"groups\"><saml:AttributeValue>buyers</saml:AttributeValue>\
             <saml:AttributeValue>admins</saml:AttributeValue></saml:Attribute>\
             </saml:AttributeStatement></saml:Assertion>"
        ),
        "{}",
        signed.xml
    );
    assert!(
        signed
            .xml
            .contains("<saml:AuthnStatement AuthnInstant=\"2024-03-01T12:00:00Z\"")
    );
}

#[test]
fn without_name_qualifier_or_attributes_the_optional_parts_are_left_out() {
    let keys = KeyFiles::generate();
    let mut req = request(&[]);
    // Blank destination properties count as unset.
    req.name_qualifier = Some("");
    let signed = sign(&req, &keys.signing_key());
    let fields = verified_fields(&signed.xml, &keys.cert_path());
    assert_eq!(fields["name_qualifier"], Value::Null);
    assert!(!signed.xml.contains("NameQualifier"), "{}", signed.xml);
    assert!(!signed.xml.contains("AttributeStatement"), "{}", signed.xml);
}

#[test]
fn every_call_gets_a_fresh_id() {
    let keys = KeyFiles::generate();
    let key = keys.signing_key();
    let mut req = request(&[]);
    req.now = SystemTime::now();
    let first = sign(&req, &key);
    let second = sign(&req, &key);
    assert_is_assertion_id(&first.id);
    assert_is_assertion_id(&second.id);
    assert_ne!(first.id, second.id);
    assert_ne!(first.xml, second.xml);
    // Both must still verify: a fresh ID changes the digest, not the validity.
    for signed in [&first, &second] {
        let fields = verified_fields(&signed.xml, &keys.cert_path());
        assert_eq!(fields["id"], signed.id.as_str());
    }
}

#[test]
fn a_tampered_assertion_is_rejected() {
    let keys = KeyFiles::generate();
    let signed = sign(&request(&[]), &keys.signing_key());
    let original = ">alice@example.com</saml:NameID>";
    assert!(signed.xml.contains(original), "{}", signed.xml);
    let tampered = signed
        .xml
        .replace(original, ">mallory@example.com</saml:NameID>");
    let reason = assert_rejected(&tampered, &keys.cert_path());
    assert!(reason.to_lowercase().contains("digest"), "{reason}");

    // The untouched assertion still verifies, so the rejection is due to the edit alone.
    verified_fields(&signed.xml, &keys.cert_path());
}

#[test]
fn a_different_certificate_is_rejected() {
    let keys = KeyFiles::generate();
    let other = KeyFiles::generate();
    let signed = sign(&request(&[]), &keys.signing_key());
    assert_rejected(&signed.xml, &other.cert_path());

    // Pairing a key with someone else's certificate is caught when the key is loaded.
    let mismatch = SigningKey::from_pem(&keys.key_pem, &other.cert_pem)
        .expect_err("a foreign certificate is refused");
    assert!(
        matches!(mismatch, SamlError::KeyCertificateMismatch),
        "{mismatch:?}"
    );
}

#[test]
fn user_supplied_values_are_escaped() {
    let keys = KeyFiles::generate();
    let attributes = [("a<&\"\t>b", "x<&\"'>\r\ny")];
    let req = AssertionRequest {
        issuer: "issuer & <co>\r\nline two",
        name_id: "o'neil<&\"admin\">",
        name_id_format: "urn:x:\"quoted\"&<format>",
        name_qualifier: Some("q&\"<>\t\n\r"),
        audience: "aud]]>&amp;",
        recipient: "https://idp.example/?a=1&b=\"2\"\t<3>",
        authn_context_class_ref: "ctx & <ref>",
        ..request(&attributes)
    };
    let signed = sign(&req, &keys.signing_key());
    let fields = verified_fields(&signed.xml, &keys.cert_path());
    assert_eq!(fields["issuer"], req.issuer);
    assert_eq!(fields["name_id"], req.name_id);
    assert_eq!(fields["name_id_format"], req.name_id_format);
    assert_eq!(fields["name_qualifier"], "q&\"<>\t\n\r");
    assert_eq!(fields["audience"], req.audience);
    assert_eq!(fields["recipient"], req.recipient);
    assert_eq!(
        fields["authn_context_class_ref"],
        req.authn_context_class_ref
    );
}

#[test]
fn characters_xml_cannot_carry_are_refused() {
    let keys = KeyFiles::generate();
    let req = AssertionRequest {
        name_id: "alice\u{1}",
        ..request(&[])
    };
    let error = sign_assertion(&req, &keys.signing_key()).expect_err("a control character");
    assert!(
        matches!(error, SamlError::InvalidCharacter { field: "name_id" }),
        "{error:?}"
    );
    let req = AssertionRequest {
        audience: "",
        ..request(&[])
    };
    let error = sign_assertion(&req, &keys.signing_key()).expect_err("an empty audience");
    assert_eq!(
        error.to_string(),
        "the assertion field audience must not be empty"
    );
}

#[test]
fn a_pkcs1_key_is_accepted() {
    let keys = KeyFiles::generate();
    let pkcs1 = keys.pkcs1_key_pem();
    assert!(pkcs1.contains("-----BEGIN RSA PRIVATE KEY-----"), "{pkcs1}");
    let key = SigningKey::from_pem(&pkcs1, &keys.cert_pem).expect("the PKCS#1 key loads");
    let signed = sign(&request(&[]), &key);
    let fields = verified_fields(&signed.xml, &keys.cert_path());
    assert_eq!(fields["id"], signed.id.as_str());
}

#[test]
fn unusable_pem_gives_a_clear_error_without_key_material() {
    let keys = KeyFiles::generate();
    let key_body: String = keys
        .key_pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();

    let error = SigningKey::from_pem("this is not a PEM file", &keys.cert_pem)
        .expect_err("garbage instead of a key");
    assert!(matches!(error, SamlError::MissingPem { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "no PEM block labelled PRIVATE KEY or RSA PRIVATE KEY found"
    );

    let error = SigningKey::from_pem(&keys.key_pem, "garbage").expect_err("garbage certificate");
    assert_eq!(error.to_string(), "no PEM block labelled CERTIFICATE found");

    let broken = "-----BEGIN PRIVATE KEY-----\n!!not base64!!\n-----END PRIVATE KEY-----\n";
    let error = SigningKey::from_pem(broken, &keys.cert_pem).expect_err("broken base64");
    assert!(matches!(error, SamlError::PemBase64 { .. }), "{error:?}");

    // A well-formed PEM block whose DER is not an RSA key: ring's reason is reported, the key is not.
    let truncated_body = &key_body[..key_body.len() / 2 / 4 * 4];
    let truncated =
        format!("-----BEGIN PRIVATE KEY-----\n{truncated_body}\n-----END PRIVATE KEY-----\n");
    let error = SigningKey::from_pem(&truncated, &keys.cert_pem).expect_err("a truncated key");
    assert!(matches!(error, SamlError::InvalidKey { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.starts_with("the private key is not a usable RSA key"),
        "{message}"
    );
    assert!(!message.contains(&key_body[..40]), "{message}");
    assert!(!format!("{error:?}").contains(&key_body[..40]), "{error:?}");

    let error = SigningKey::from_pem(
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
        &keys.cert_pem,
    )
    .expect_err("an encrypted key");
    assert!(matches!(error, SamlError::EncryptedKey), "{error:?}");

    let broken_cert = "-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n";
    let error = SigningKey::from_pem(&keys.key_pem, broken_cert).expect_err("not X.509");
    assert!(matches!(error, SamlError::InvalidCertificate), "{error:?}");
}

#[test]
fn debug_output_hides_the_key_and_the_assertion() {
    let keys = KeyFiles::generate();
    let key = keys.signing_key();
    assert_eq!(format!("{key:?}"), "SigningKey { .. }");
    let signed = sign(&request(&[]), &key);
    let debug = format!("{signed:?}");
    assert!(debug.contains(&signed.id), "{debug}");
    assert!(!debug.contains("alice"), "{debug}");
}

#[test]
fn base64url_form_has_no_padding_and_decodes_to_the_xml() {
    let keys = KeyFiles::generate();
    let key = keys.signing_key();
    // Different name lengths shift the XML length modulo 3, so padding would show up in at least
    // one of them if it were emitted.
    for name_id in ["a", "ab", "abc"] {
        let req = AssertionRequest {
            name_id,
            ..request(&[])
        };
        let signed = sign(&req, &key);
        let encoded = signed.to_base64url();
        assert!(
            encoded
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{encoded}"
        );
        let decoded = URL_SAFE_NO_PAD
            .decode(encoded.as_bytes())
            .expect("valid base64url");
        assert_eq!(decoded, signed.xml.as_bytes());
    }
}
