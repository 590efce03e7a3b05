//! SAML 2.0 bearer assertions for OAuth2SAMLBearerAssertion destinations, signed RSA-SHA256 with exclusive canonicalization.
//!
//! In "local" mode the gateway acts as its own identity provider: it builds an assertion for the
//! caller's user, signs it with the destination's key and hands it to the RFC 7522 token exchange.
//! There is no XML library in the dependency tree, so the assertion is written directly in the
//! exclusive-canonical form (W3C `xml-exc-c14n`). A verifier that parses the document and
//! canonicalizes the Assertion (with the Signature removed by the enveloped-signature transform)
//! gets back exactly the bytes that were digested here, and the same holds for the SignedInfo.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::{SecureRandom as _, SystemRandom};
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};

/// Namespace of SAML 2.0 assertions, bound to the `saml` prefix.
const SAML_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
/// Namespace of XML digital signatures, bound to the `ds` prefix.
const DS_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// Exclusive XML canonicalization without comments.
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
/// RSASSA-PKCS1-v1_5 with SHA-256.
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
/// The transform that removes the Signature element from the signed Assertion.
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
/// SHA-256 as a digest method.
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
/// The subject confirmation method of a bearer assertion (SAML 2.0 profiles, section 3.3).
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// How far `NotBefore` lies before the issue instant.
///
/// The token service checks `NotBefore` against its own clock, which may run a little behind the
/// gateway's; one minute absorbs ordinary NTP drift without making the assertion usable noticeably
/// earlier than it was issued.
pub const NOT_BEFORE_SKEW: Duration = Duration::from_secs(60);

/// The last second the four-digit `YYYY` timestamp format can express: 9999-12-31T23:59:59Z.
const MAX_TIMESTAMP: u64 = 253_402_300_799;

/// DER encoding of the rsaEncryption object identifier, 1.2.840.113549.1.1.1.
const RSA_ENCRYPTION_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// Everything that can go wrong while loading a key or signing an assertion.
///
/// No message ever contains key material, so the errors can be logged as they are.
#[derive(Debug, thiserror::Error)]
pub enum SamlError {
    /// The PEM text holds no block with the expected label.
    #[error("no PEM block labelled {label} found")]
    MissingPem {
        /// The label that was looked for, e.g. `CERTIFICATE`.
        label: &'static str,
    },
    /// A PEM block was found but its body is not valid base64.
    #[error("the {label} PEM block is not valid base64")]
    PemBase64 {
        /// The label of the broken block.
        label: &'static str,
    },
    /// The private key is password-protected; the gateway has no passphrase to open it.
    #[error("encrypted private keys are not supported, decrypt the key first")]
    EncryptedKey,
    /// The key PEM holds a private key of a type other than RSA.
    #[error("the private key is a {label}, but only RSA keys are supported")]
    UnsupportedKeyType {
        /// The PEM label of the key that was found, e.g. `EC PRIVATE KEY`.
        label: String,
    },
    /// ring rejected the RSA key; the reason is ring's fixed description, e.g. `InvalidEncoding`.
    #[error("the private key is not a usable RSA key: {reason}")]
    InvalidKey {
        /// Why ring rejected the key.
        reason: String,
    },
    /// The certificate is not a DER-encoded X.509 certificate the gateway can read.
    #[error("the certificate is not a well-formed X.509 certificate")]
    InvalidCertificate,
    /// The certificate holds a public key that is not an RSA key.
    #[error("the certificate does not hold an RSA public key")]
    CertificateNotRsa,
    /// The certificate belongs to some other key, so receivers could not verify our signatures.
    #[error("the certificate does not match the private key")]
    KeyCertificateMismatch,
    /// A required request field is empty.
    #[error("the assertion field {field} must not be empty")]
    EmptyField {
        /// The name of the field in [`AssertionRequest`].
        field: &'static str,
    },
    /// A request field holds a character that XML 1.0 cannot carry, even escaped.
    #[error("the assertion field {field} contains a character XML 1.0 cannot represent")]
    InvalidCharacter {
        /// The name of the field in [`AssertionRequest`].
        field: &'static str,
    },
    /// The issue time or validity period cannot be written as a SAML timestamp.
    #[error("invalid assertion time: {reason}")]
    InvalidTime {
        /// What is wrong with the time.
        reason: &'static str,
    },
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// ring failed to produce the RSA signature.
    #[error("signing the assertion with the RSA key failed")]
    Signing,
}

/// An RSA private key together with the X.509 certificate that is published for it.
///
/// The certificate goes into every signature's KeyInfo so the token service can match the
/// assertion to the trust configuration that holds the same certificate.
pub struct SigningKey {
    key_pair: RsaKeyPair,
    certificate_der: Vec<u8>,
}

impl fmt::Debug for SigningKey {
    // Neither the key nor the certificate is printed: logs must never see the private key, and the
    // certificate alone would only be noise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey { .. }")
    }
}

impl SigningKey {
    /// Loads a signing key from PEM text.
    ///
    /// `key_pem` is an unencrypted RSA private key, either PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1
    /// (`BEGIN RSA PRIVATE KEY`); ring accepts moduli from 2048 to 8192 bits. `cert_pem` is the X.509
    /// certificate (`BEGIN CERTIFICATE`); when the PEM holds a chain, the first certificate is the
    /// one used, and it must carry the public half of `key_pem`.
    pub fn from_pem(key_pem: &str, cert_pem: &str) -> Result<Self, SamlError> {
        let key_pair = parse_private_key(key_pem)?;
        let certificate_der = pem_blocks(cert_pem)
            .find(|block| block.label == "CERTIFICATE")
            .ok_or(SamlError::MissingPem {
                label: "CERTIFICATE",
            })?
            .decode("CERTIFICATE")?;
        let certificate_key = certificate_rsa_public_key(&certificate_der)?;
        // ring serializes the public key as a DER RSAPublicKey, which is exactly what the
        // certificate's subjectPublicKey BIT STRING wraps, so byte equality means the same key.
        if certificate_key != key_pair.public().as_ref() {
            return Err(SamlError::KeyCertificateMismatch);
        }
        Ok(Self {
            key_pair,
            certificate_der,
        })
    }
}

/// The contents of one assertion; each field maps to a property of the BTP destination.
#[derive(Debug, Clone, Copy)]
pub struct AssertionRequest<'a> {
    /// The destination's `assertionIssuer`, written as `saml:Issuer`.
    pub issuer: &'a str,
    /// The user the assertion speaks for, already chosen by the caller; the `saml:NameID` text.
    pub name_id: &'a str,
    /// The destination's `nameIdFormat`, e.g.
    /// `urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress`; the NameID's `Format`.
    pub name_id_format: &'a str,
    /// The destination's `nameQualifier`; written as the NameID's `NameQualifier` when set and
    /// non-empty (destination properties are often present but blank).
    pub name_qualifier: Option<&'a str>,
    /// The destination's `audience`, written as `saml:AudienceRestriction/saml:Audience`.
    pub audience: &'a str,
    /// `assertionRecipient`, or the token service URL when that is unset; the `Recipient` of the
    /// bearer subject confirmation.
    pub recipient: &'a str,
    /// The destination's `authnContextClassRef`; callers default it to
    /// `urn:oasis:names:tc:SAML:2.0:ac:classes:PreviousSession`.
    pub authn_context_class_ref: &'a str,
    /// Extra attributes as name/value pairs of plain strings. Pairs sharing a name become one
    /// `saml:Attribute` with several values, in the order the names first appear.
    pub attributes: &'a [(&'a str, &'a str)],
    /// The issue instant; truncated to whole seconds, since that is all the timestamps carry.
    pub now: SystemTime,
    /// How long the assertion is valid; whole seconds only, at least one.
    pub lifetime: Duration,
}

/// A signed assertion, ready for the token exchange.
#[derive(Clone)]
pub struct SignedAssertion {
    /// The assertion's `ID` (also its `SessionIndex`): `_` followed by 32 random hex digits.
    pub id: String,
    /// The complete signed XML document, without an XML declaration.
    pub xml: String,
    /// The end of the validity period, exactly as written into the XML.
    pub not_on_or_after: SystemTime,
}

impl fmt::Debug for SignedAssertion {
    // A signed assertion is a bearer credential until it expires, so the XML stays out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedAssertion")
            .field("id", &self.id)
            .field("xml", &format_args!("<{} bytes>", self.xml.len()))
            .field("not_on_or_after", &self.not_on_or_after)
            .finish()
    }
}

impl SignedAssertion {
    /// The XML as base64url without padding, the encoding RFC 7522 section 2.1 prescribes for the
    /// `assertion` form parameter.
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.xml.as_bytes())
    }
}

/// Builds the assertion described by `request` and signs it with `key`.
///
/// The result is an enveloped XML-DSig signature (exclusive c14n, RSA-SHA256, SHA-256 digest)
/// whose single reference points at the Assertion's own `ID`. `NotBefore` is set
/// [`NOT_BEFORE_SKEW`] before the issue instant; both `NotOnOrAfter` attributes are
/// `now + lifetime`.
pub fn sign_assertion(
    request: &AssertionRequest<'_>,
    key: &SigningKey,
) -> Result<SignedAssertion, SamlError> {
    validate(request)?;
    let times = Times::new(request.now, request.lifetime)?;

    let rng = SystemRandom::new();
    let mut id_bytes = [0u8; 16];
    rng.fill(&mut id_bytes).map_err(|_| SamlError::Random)?;
    // xsd:ID values must not start with a digit, hence the underscore.
    let mut id = String::with_capacity(33);
    id.push('_');
    for byte in id_bytes {
        push_hex(&mut id, byte);
    }

    let (head, tail) = canonical_assertion(request, &id, &times);
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    digest.update(head.as_bytes());
    digest.update(tail.as_bytes());
    let digest = digest.finish();
    let signed_info_children = signed_info_children(&id, &STANDARD.encode(digest.as_ref()));
    // Exclusive canonicalization renders SignedInfo as the apex of its node set, so `xmlns:ds`,
    // which SignedInfo uses visibly and inherits from Signature in the document, is declared on
    // SignedInfo itself in the bytes every verifier recomputes and checks the signature against.
    let signed_info =
        format!("<ds:SignedInfo xmlns:ds=\"{DS_NS}\">{signed_info_children}</ds:SignedInfo>");

    let mut signature = vec![0u8; key.key_pair.public().modulus_len()];
    key.key_pair
        .sign(
            &RSA_PKCS1_SHA256,
            &rng,
            signed_info.as_bytes(),
            &mut signature,
        )
        .map_err(|_| SamlError::Signing)?;

    // Inside the document the declaration lives on Signature alone, as mainstream signers write
    // it; SignedInfo inherits it, and canonicalization restores it on SignedInfo as signed above.
    let mut xml = String::with_capacity(head.len() + tail.len() + signed_info.len() + 2048);
    xml.push_str(&head);
    xml.push_str("<ds:Signature xmlns:ds=\"");
    xml.push_str(DS_NS);
    xml.push_str("\"><ds:SignedInfo>");
    xml.push_str(&signed_info_children);
    xml.push_str("</ds:SignedInfo>");
    xml.push_str("<ds:SignatureValue>");
    xml.push_str(&STANDARD.encode(&signature));
    xml.push_str("</ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>");
    xml.push_str(&STANDARD.encode(&key.certificate_der));
    xml.push_str("</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>");
    xml.push_str(&tail);

    Ok(SignedAssertion {
        id,
        xml,
        not_on_or_after: UNIX_EPOCH + Duration::from_secs(times.not_on_or_after),
    })
}

/// The three instants of an assertion, as seconds since the Unix epoch.
struct Times {
    issued: u64,
    not_before: u64,
    not_on_or_after: u64,
}

impl Times {
    fn new(now: SystemTime, lifetime: Duration) -> Result<Self, SamlError> {
        let issued = now
            .duration_since(UNIX_EPOCH)
            .map_err(|_| SamlError::InvalidTime {
                reason: "the issue instant lies before 1970",
            })?
            .as_secs();
        let lifetime = lifetime.as_secs();
        if lifetime == 0 {
            return Err(SamlError::InvalidTime {
                reason: "the lifetime must be at least one second",
            });
        }
        let not_before =
            issued
                .checked_sub(NOT_BEFORE_SKEW.as_secs())
                .ok_or(SamlError::InvalidTime {
                    reason: "the validity period would start before 1970",
                })?;
        let not_on_or_after = issued
            .checked_add(lifetime)
            .filter(|end| *end <= MAX_TIMESTAMP)
            .ok_or(SamlError::InvalidTime {
                reason: "the validity period would end after the year 9999",
            })?;
        Ok(Self {
            issued,
            not_before,
            not_on_or_after,
        })
    }
}

/// Rejects requests that would produce an unusable or unrepresentable assertion.
fn validate(request: &AssertionRequest<'_>) -> Result<(), SamlError> {
    let required = [
        ("issuer", request.issuer),
        ("name_id", request.name_id),
        ("name_id_format", request.name_id_format),
        ("audience", request.audience),
        ("recipient", request.recipient),
        ("authn_context_class_ref", request.authn_context_class_ref),
    ];
    for (field, value) in required {
        if value.is_empty() {
            return Err(SamlError::EmptyField { field });
        }
        check_xml_chars(field, value)?;
    }
    if let Some(qualifier) = request.name_qualifier {
        check_xml_chars("name_qualifier", qualifier)?;
    }
    for (name, value) in request.attributes {
        if name.is_empty() {
            return Err(SamlError::EmptyField {
                field: "attribute name",
            });
        }
        check_xml_chars("attribute name", name)?;
        check_xml_chars("attribute value", value)?;
    }
    Ok(())
}

/// Fails when `value` holds a character outside the XML 1.0 `Char` production.
///
/// Escaping cannot help with these: even `&#x1;` is not well-formed XML 1.0, so the only honest
/// answer is an error.
fn check_xml_chars(field: &'static str, value: &str) -> Result<(), SamlError> {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
            || c >= '\u{10000}'
    };
    if value.chars().all(allowed) {
        Ok(())
    } else {
        Err(SamlError::InvalidCharacter { field })
    }
}

/// Writes the Assertion without its Signature, already in exclusive-canonical form.
///
/// The result comes in two halves, split right after `saml:Issuer`, where the schema wants the
/// Signature. Attributes appear in canonical order (unqualified attributes sorted by name; the
/// only namespace declaration is on the root, the sole place it is visibly used first), elements
/// are never self-closed, and nothing separates the tags.
fn canonical_assertion(
    request: &AssertionRequest<'_>,
    id: &str,
    times: &Times,
) -> (String, String) {
    let issued = format_timestamp(times.issued);
    let not_on_or_after = format_timestamp(times.not_on_or_after);

    let mut head = String::with_capacity(256);
    head.push_str("<saml:Assertion xmlns:saml=\"");
    head.push_str(SAML_NS);
    head.push_str("\" ID=\"");
    head.push_str(id);
    head.push_str("\" IssueInstant=\"");
    head.push_str(&issued);
    head.push_str("\" Version=\"2.0\"><saml:Issuer>");
    push_text(&mut head, request.issuer);
    head.push_str("</saml:Issuer>");

    let mut tail = String::with_capacity(1024);
    tail.push_str("<saml:Subject><saml:NameID Format=\"");
    push_attribute_value(&mut tail, request.name_id_format);
    tail.push('"');
    if let Some(qualifier) = request.name_qualifier.filter(|q| !q.is_empty()) {
        tail.push_str(" NameQualifier=\"");
        push_attribute_value(&mut tail, qualifier);
        tail.push('"');
    }
    tail.push('>');
    push_text(&mut tail, request.name_id);
    tail.push_str("</saml:NameID><saml:SubjectConfirmation Method=\"");
    tail.push_str(BEARER);
    tail.push_str("\"><saml:SubjectConfirmationData NotOnOrAfter=\"");
    tail.push_str(&not_on_or_after);
    tail.push_str("\" Recipient=\"");
    push_attribute_value(&mut tail, request.recipient);
    tail.push_str("\"></saml:SubjectConfirmationData></saml:SubjectConfirmation></saml:Subject>");

    tail.push_str("<saml:Conditions NotBefore=\"");
    tail.push_str(&format_timestamp(times.not_before));
    tail.push_str("\" NotOnOrAfter=\"");
    tail.push_str(&not_on_or_after);
    tail.push_str("\"><saml:AudienceRestriction><saml:Audience>");
    push_text(&mut tail, request.audience);
    tail.push_str("</saml:Audience></saml:AudienceRestriction></saml:Conditions>");

    tail.push_str("<saml:AuthnStatement AuthnInstant=\"");
    tail.push_str(&issued);
    tail.push_str("\" SessionIndex=\"");
    tail.push_str(id);
    tail.push_str("\"><saml:AuthnContext><saml:AuthnContextClassRef>");
    push_text(&mut tail, request.authn_context_class_ref);
    tail.push_str("</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>");

    if !request.attributes.is_empty() {
        tail.push_str("<saml:AttributeStatement>");
        let mut names: Vec<&str> = Vec::new();
        for (name, _) in request.attributes {
            if !names.contains(name) {
                names.push(name);
            }
        }
        for name in names {
            tail.push_str("<saml:Attribute Name=\"");
            push_attribute_value(&mut tail, name);
            tail.push_str("\">");
            for (_, value) in request.attributes.iter().filter(|(n, _)| *n == name) {
                tail.push_str("<saml:AttributeValue>");
                push_text(&mut tail, value);
                tail.push_str("</saml:AttributeValue>");
            }
            tail.push_str("</saml:Attribute>");
        }
        tail.push_str("</saml:AttributeStatement>");
    }

    tail.push_str("</saml:Assertion>");
    (head, tail)
}

/// Writes the children of SignedInfo in canonical form: one reference to the Assertion's `ID`,
/// enveloped-signature and exclusive c14n transforms, a SHA-256 digest and an RSA-SHA256 signature.
fn signed_info_children(id: &str, digest_b64: &str) -> String {
    format!(
        "<ds:CanonicalizationMethod Algorithm=\"{EXC_C14N}\"></ds:CanonicalizationMethod>\
         <ds:SignatureMethod Algorithm=\"{RSA_SHA256}\"></ds:SignatureMethod>\
         <ds:Reference URI=\"#{id}\">\
         <ds:Transforms>\
         <ds:Transform Algorithm=\"{ENVELOPED}\"></ds:Transform>\
         <ds:Transform Algorithm=\"{EXC_C14N}\"></ds:Transform>\
         </ds:Transforms>\
         <ds:DigestMethod Algorithm=\"{SHA256}\"></ds:DigestMethod>\
         <ds:DigestValue>{digest_b64}</ds:DigestValue>\
         </ds:Reference>"
    )
}

/// Appends `text` escaped the way canonical XML escapes character data.
///
/// `\r` must become a character reference, or the parser's line-end normalization would turn it
/// into `\n` and the digest would no longer match.
fn push_text(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            other => out.push(other),
        }
    }
}

/// Appends `value` escaped the way canonical XML escapes attribute values.
///
/// Tabs and line ends are written as character references because attribute-value normalization
/// would otherwise turn them into spaces before the verifier canonicalizes.
fn push_attribute_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            other => out.push(other),
        }
    }
}

/// Appends the two lowercase hex digits of `byte`.
fn push_hex(out: &mut String, byte: u8) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.push(char::from(DIGITS[usize::from(byte >> 4)]));
    out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
}

/// Formats seconds since the Unix epoch as a UTC `xs:dateTime`, `YYYY-MM-DDTHH:MM:SSZ`.
///
/// The caller keeps `seconds` at or below [`MAX_TIMESTAMP`] so the year has four digits.
fn format_timestamp(seconds: u64) -> String {
    let (year, month, day) = civil_from_days(seconds / 86_400);
    let second_of_day = seconds % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    )
}

/// Turns a count of days since 1970-01-01 into a proleptic Gregorian (year, month, day).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Any 400 consecutive Gregorian years hold 97 leap years, 146 097 days in all, whatever year
    // they start in. Skipping whole cycles first keeps the year-by-year walk below short.
    const DAYS_PER_400_YEARS: u64 = 146_097;
    let mut year = 1970 + days / DAYS_PER_400_YEARS * 400;
    let mut remaining = days % DAYS_PER_400_YEARS;
    loop {
        let length = if is_leap_year(year) { 366 } else { 365 };
        if remaining < length {
            break;
        }
        remaining -= length;
        year += 1;
    }
    let february = if is_leap_year(year) { 29 } else { 28 };
    let month_lengths = [31, february, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut month = 1;
    for length in month_lengths {
        if remaining < length {
            break;
        }
        remaining -= length;
        month += 1;
    }
    (year, month, remaining + 1)
}

fn is_leap_year(year: u64) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

/// One PEM block: its label and the base64 body with header lines removed.
struct PemBlock<'a> {
    label: &'a str,
    headers: bool,
    body: String,
}

impl PemBlock<'_> {
    fn decode(&self, label: &'static str) -> Result<Vec<u8>, SamlError> {
        STANDARD
            .decode(self.body.as_bytes())
            .map_err(|_| SamlError::PemBase64 { label })
    }
}

/// Iterates over the PEM blocks in `text`, in order; text outside blocks is ignored, as OpenSSL does.
fn pem_blocks(text: &str) -> impl Iterator<Item = PemBlock<'_>> {
    let mut rest = text;
    std::iter::from_fn(move || {
        loop {
            let start = rest.find("-----BEGIN ")?;
            let after_begin = &rest[start + "-----BEGIN ".len()..];
            let label_end = after_begin.find("-----")?;
            let label = &after_begin[..label_end];
            let body_start = &after_begin[label_end + "-----".len()..];
            let end_marker = format!("-----END {label}-----");
            let Some(body_end) = body_start.find(&end_marker) else {
                // An unterminated block is no block; look for a later, complete one.
                rest = body_start;
                continue;
            };
            rest = &body_start[body_end + end_marker.len()..];
            let mut headers = false;
            let mut body = String::new();
            for line in body_start[..body_end].lines() {
                // RFC 1421 style headers ("Proc-Type: 4,ENCRYPTED") precede the base64 body.
                if line.contains(':') {
                    headers = true;
                } else {
                    body.extend(line.chars().filter(|c| !c.is_ascii_whitespace()));
                }
            }
            return Some(PemBlock {
                label,
                headers,
                body,
            });
        }
    })
}

/// Finds the private key in `pem` and hands it to ring.
fn parse_private_key(pem: &str) -> Result<RsaKeyPair, SamlError> {
    for block in pem_blocks(pem) {
        match block.label {
            "PRIVATE KEY" => {
                let der = block.decode("PRIVATE KEY")?;
                return RsaKeyPair::from_pkcs8(&der).map_err(|e| SamlError::InvalidKey {
                    reason: e.to_string(),
                });
            }
            "RSA PRIVATE KEY" => {
                // OpenSSL marks a passphrase-protected PKCS#1 key with Proc-Type/DEK-Info headers.
                if block.headers {
                    return Err(SamlError::EncryptedKey);
                }
                let der = block.decode("RSA PRIVATE KEY")?;
                return RsaKeyPair::from_der(&der).map_err(|e| SamlError::InvalidKey {
                    reason: e.to_string(),
                });
            }
            "ENCRYPTED PRIVATE KEY" => return Err(SamlError::EncryptedKey),
            label if label.ends_with("PRIVATE KEY") => {
                return Err(SamlError::UnsupportedKeyType {
                    label: label.to_owned(),
                });
            }
            // Parameters, certificates and the like may share the file with the key.
            _ => {}
        }
    }
    Err(SamlError::MissingPem {
        label: "PRIVATE KEY or RSA PRIVATE KEY",
    })
}

/// Splits one DER element off `input`: its tag byte, its contents and what follows it.
///
/// Only what X.509 needs up to the subject public key is supported: single-byte tags and definite
/// lengths of up to four length bytes.
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (bytes, rest) = rest.split_at(count);
        let length = bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (length, rest)
    };
    if rest.len() < length {
        return None;
    }
    let (contents, rest) = rest.split_at(length);
    Some((tag, contents, rest))
}

/// Extracts the DER RSAPublicKey from a certificate's subjectPublicKeyInfo.
fn certificate_rsa_public_key(certificate: &[u8]) -> Result<&[u8], SamlError> {
    const SEQUENCE: u8 = 0x30;
    fn expect(input: &[u8], tag: u8) -> Result<(&[u8], &[u8]), SamlError> {
        match der_element(input) {
            Some((found, contents, rest)) if found == tag => Ok((contents, rest)),
            _ => Err(SamlError::InvalidCertificate),
        }
    }
    let (certificate_body, trailing) = expect(certificate, SEQUENCE)?;
    if !trailing.is_empty() {
        return Err(SamlError::InvalidCertificate);
    }
    let (tbs, _) = expect(certificate_body, SEQUENCE)?;
    // The explicit [0] version is absent in v1 certificates.
    let mut fields = match der_element(tbs) {
        Some((0xa0, _, rest)) => rest,
        _ => tbs,
    };
    // serialNumber, signature, issuer, validity, subject: skipped, only their shape is checked.
    for tag in [0x02, SEQUENCE, SEQUENCE, SEQUENCE, SEQUENCE] {
        fields = expect(fields, tag)?.1;
    }
    let (spki, _) = expect(fields, SEQUENCE)?;
    let (algorithm, public_key) = expect(spki, SEQUENCE)?;
    let (oid, _) = expect(algorithm, 0x06)?;
    if oid != RSA_ENCRYPTION_OID {
        return Err(SamlError::CertificateNotRsa);
    }
    let (bits, _) = expect(public_key, 0x03)?;
    match bits.split_first() {
        // The leading byte counts unused bits in the last byte; a DER key always has none.
        Some((0, key)) => Ok(key),
        _ => Err(SamlError::InvalidCertificate),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_xs_date_time() {
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_timestamp(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_timestamp(951_868_799), "2000-02-29T23:59:59Z");
        assert_eq!(format_timestamp(951_868_800), "2000-03-01T00:00:00Z");
        assert_eq!(format_timestamp(1_709_164_800), "2024-02-29T00:00:00Z");
        assert_eq!(format_timestamp(4_107_542_399), "2100-02-28T23:59:59Z");
        assert_eq!(format_timestamp(4_107_542_400), "2100-03-01T00:00:00Z");
        assert_eq!(format_timestamp(1_234_567_890), "2009-02-13T23:31:30Z");
        assert_eq!(format_timestamp(MAX_TIMESTAMP), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn civil_dates_agree_with_a_day_by_day_count() {
        // Walking forward one day at a time is slow but obviously right, so it checks the
        // cycle-skipping conversion across several leap-year rules, including 2000 and 2100.
        let (mut year, mut month, mut day) = (1970, 1, 1);
        for days in 0..(200 * 366) {
            assert_eq!(civil_from_days(days), (year, month, day), "day {days}");
            let february = if is_leap_year(year) { 29 } else { 28 };
            let length = [31, february, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month as usize - 1];
            day += 1;
            if day > length {
                day = 1;
                month += 1;
                if month > 12 {
                    month = 1;
                    year += 1;
                }
            }
        }
    }

    #[test]
    fn escaping_follows_canonical_xml() {
        let mut text = String::new();
        push_text(&mut text, "a&b<c>d\"e'f\r\n\t");
        assert_eq!(text, "a&amp;b&lt;c&gt;d\"e'f&#xD;\n\t");
        let mut attribute = String::new();
        push_attribute_value(&mut attribute, "a&b<c>d\"e'f\r\n\t");
        assert_eq!(attribute, "a&amp;b&lt;c>d&quot;e'f&#xD;&#xA;&#x9;");
    }

    #[test]
    fn characters_outside_xml_are_rejected() {
        assert!(check_xml_chars("name_id", "fine\tand\u{10FFFF}").is_ok());
        assert!(matches!(
            check_xml_chars("name_id", "nul\u{0}"),
            Err(SamlError::InvalidCharacter { field: "name_id" })
        ));
        assert!(check_xml_chars("name_id", "\u{FFFE}").is_err());
    }

    #[test]
    fn validity_period_is_derived_from_whole_seconds() {
        let now = UNIX_EPOCH + Duration::from_millis(1_000_000_750);
        let times = Times::new(now, Duration::from_millis(300_900)).expect("valid times");
        assert_eq!(times.issued, 1_000_000);
        assert_eq!(times.not_before, 1_000_000 - 60);
        assert_eq!(times.not_on_or_after, 1_000_300);
        assert!(Times::new(now, Duration::from_millis(999)).is_err());
        assert!(
            Times::new(
                UNIX_EPOCH + Duration::from_secs(30),
                Duration::from_secs(60)
            )
            .is_err()
        );
        assert!(
            Times::new(
                UNIX_EPOCH + Duration::from_secs(MAX_TIMESTAMP),
                Duration::from_secs(1)
            )
            .is_err()
        );
    }
}
