//! Inbound identity: verification of the caller's JWT (RS256/ES256) against a PEM key or a JWKS.
//!
//! Callers send `Authorization: Bearer <JWT>` issued by an XSUAA- or IAS-like identity provider.
//! The token is a JWS in compact serialisation (RFC 7515) and is checked here with `ring` alone:
//!
//! * Only `RS256` (RSA PKCS#1 v1.5 with SHA-256, keys of 2048 to 8192 bits) and `ES256` (ECDSA
//!   P-256 with SHA-256, signature `r || s`) are accepted. `none`, the HMAC algorithms and every
//!   other name are refused, and so is an algorithm that does not fit the key's type, so that a
//!   public RSA key can never be misused as an HMAC secret (algorithm confusion).
//! * Each part is base64url *without* padding, as RFC 7515 section 2 prescribes; a padded part or
//!   one with non-zero trailing bits is refused rather than guessed at.
//! * `exp` is required; `nbf` and `iat` are checked when present; all three with the configured
//!   leeway, in whole seconds (fractional seconds in the claims are cut off).
//! * `iss` must equal the configured issuer when one is set, and `aud` (a string or an array of
//!   strings) must contain at least one configured audience when any are set.
//! * The header fields `jku`, `x5u`, `jwk` and `x5c` are ignored: keys come only from the
//!   configuration, never from the token that is being checked.
//!
//! The signature is verified before any claim is looked at, so an error about a claim always
//! concerns a token the identity provider really issued. Error messages are meant for API clients
//! and never contain the token, any of its parts or its signature.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;
use serde_json::{Map, Value};
use thiserror::Error;
use url::Url;

/// Largest token accepted, in bytes. Real XSUAA tokens with many scopes stay well below 8 KiB;
/// the limit is checked before any decoding so that oversized input costs nothing.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Shortest time between two JWKS fetches that tokens can cause (an unknown `kid`, a stale key
/// set) and between retries after a failed fetch, so that a flood of tokens naming made-up key ids
/// cannot turn the gateway into a load generator against the identity provider.
pub const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(30);

/// Age after which a cached key set is fetched again on the next use, so that keys the identity
/// provider has withdrawn stop being trusted. Should that fetch fail, the old keys stay in use.
pub const JWKS_MAX_AGE: Duration = Duration::from_secs(60 * 60);

/// Time allowed for one JWKS request, on top of whatever the shared client enforces.
const JWKS_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest JWKS document read; real ones hold a handful of keys and weigh a few KiB.
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// Most keys taken from one JWKS; a token without `kid` is tried against each fitting key, and the
/// limit bounds that work.
const MAX_JWKS_KEYS: usize = 100;

/// Largest date accepted in `exp`, `nbf` and `iat`: 9999-12-31T23:59:59Z.
const MAX_NUMERIC_DATE: u64 = 253_402_300_799;

/// Longest piece of token-supplied text (a `kid`, an issuer) repeated in an error message.
const MAX_ECHO_CHARS: usize = 80;

/// What a verifier checks besides the signature.
#[derive(Debug, Clone, Default)]
pub struct JwtSettings {
    /// The issuer (`iss`) the token must name exactly; `None` accepts any issuer.
    pub issuer: Option<String>,
    /// Accepted audiences: when non-empty, the token's `aud` (a string or an array of strings)
    /// must contain at least one of them.
    pub audiences: Vec<String>,
    /// Clock skew tolerated for `exp`, `nbf` and `iat`, in whole seconds.
    pub leeway: Duration,
}

/// Why a token was refused or could not be checked. The messages are fit for API clients: they
/// never contain the token, its parts or its signature, and text taken from the token is
/// shortened and stripped of control characters.
#[derive(Debug, Error)]
pub enum JwtError {
    /// The token is not a well-formed compact JWS with JSON header and payload.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The token uses a JOSE feature this verifier does not implement (JWE, critical headers).
    #[error("unsupported token: {0}")]
    Unsupported(String),
    /// The header names an algorithm other than RS256 and ES256.
    #[error("token algorithm {0} is not accepted; only RS256 and ES256 are")]
    Algorithm(String),
    /// The header's algorithm does not fit the type of the key selected for it.
    #[error("token algorithm {alg} does not match the verification key, which is {key}")]
    AlgorithmMismatch {
        /// The token's algorithm.
        alg: &'static str,
        /// The key's type, for example "an EC P-256 key".
        key: String,
    },
    /// The signature does not verify with the selected key.
    #[error("token signature invalid")]
    Signature,
    /// `exp` (plus leeway) has passed.
    #[error("token expired at {0}")]
    Expired(String),
    /// `nbf` (minus leeway) has not come yet.
    #[error("token is not valid before {0}")]
    NotYetValid(String),
    /// `iat` (minus leeway) lies in the future.
    #[error("token claims to be issued in the future, at {0}")]
    IssuedInFuture(String),
    /// A required claim is missing.
    #[error("token has no '{0}' claim")]
    MissingClaim(&'static str),
    /// `iss` differs from the configured issuer.
    #[error("token issuer {0} is not the configured issuer")]
    Issuer(String),
    /// `aud` holds none of the configured audiences.
    #[error("token audience {0} does not include an accepted audience")]
    Audience(String),
    /// The JWKS holds no key with the token's `kid`, even after fetching it again (or a fetch was
    /// not allowed yet, see [`JWKS_REFETCH_INTERVAL`]).
    #[error("no key with kid {kid} in JWKS {url}")]
    UnknownKid {
        /// The token's `kid`.
        kid: String,
        /// The JWKS URL.
        url: String,
    },
    /// The token names no `kid` and the JWKS holds no key for its algorithm.
    #[error("token has no kid and JWKS {url} holds no {alg} key")]
    NoKeyForAlgorithm {
        /// The token's algorithm.
        alg: &'static str,
        /// The JWKS URL.
        url: String,
    },
    /// The JWKS could not be fetched or read, and no earlier copy is at hand.
    #[error("cannot fetch JWKS {url}: {cause}")]
    Jwks {
        /// The JWKS URL.
        url: String,
        /// What went wrong.
        cause: String,
    },
    /// The configured key is unusable.
    #[error("invalid verification key: {0}")]
    Key(String),
}

impl JwtError {
    /// Whether the failure lies with the identity provider rather than the token (the JWKS could
    /// not be fetched): a server answers 503 for these and 401 for all others.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, JwtError::Jwks { .. })
    }
}

/// The verified caller.
#[derive(Clone)]
pub struct Identity {
    /// The tenant: the `zid` claim (XSUAA and IAS zone id), if present.
    pub tenant: Option<String>,
    /// The user's name: the first non-empty of `user_name`, `email` and `sub`.
    pub user: String,
    /// The `email` claim, if present.
    pub email: Option<String>,
    /// The `sub` claim.
    pub subject: String,
    /// When the token expires (`exp`).
    pub expires_at: SystemTime,
    /// The raw JWT, kept for principal propagation and token exchange. Never logged.
    pub token: Arc<str>,
    /// All claims of the payload.
    pub claims: Map<String, Value>,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The raw token is a bearer credential, so it must not reach logs through `{:?}`.
        f.debug_struct("Identity")
            .field("tenant", &self.tenant)
            .field("user", &self.user)
            .field("email", &self.email)
            .field("subject", &self.subject)
            .field("expires_at", &self.expires_at)
            .field("token", &"<redacted>")
            .field("claims", &self.claims)
            .finish()
    }
}

/// Verifies bearer tokens against one fixed key or the keys of a JWKS.
pub struct JwtVerifier {
    settings: JwtSettings,
    keys: Keys,
}

enum Keys {
    /// One configured key; the token's `kid` is ignored, as XSUAA's `verificationkey` is a single
    /// key without a name.
    Fixed(PublicKey),
    /// Boxed, as the cache state is several times the size of everything else in a verifier,
    /// which callers keep in enums next to much smaller alternatives.
    Jwks(Box<Jwks>),
}

impl fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = match &self.keys {
            Keys::Fixed(key) => key.describe(),
            Keys::Jwks(jwks) => format!("JWKS {}", jwks.url),
        };
        f.debug_struct("JwtVerifier")
            .field("keys", &keys)
            .field("settings", &self.settings)
            .finish()
    }
}

impl JwtVerifier {
    /// A verifier with one public key, given as PEM: a SubjectPublicKeyInfo (`BEGIN PUBLIC KEY`)
    /// or PKCS#1 (`BEGIN RSA PUBLIC KEY`) key, or an X.509 certificate (`BEGIN CERTIFICATE`) whose
    /// key is taken as it is (the certificate itself is not validated). RSA keys must have 2048
    /// to 8192 bits; EC keys must be on P-256.
    pub fn from_pem(pem: &str, settings: JwtSettings) -> Result<Self, JwtError> {
        let key = key_from_pem(pem).map_err(JwtError::Key)?;
        Ok(JwtVerifier {
            settings,
            keys: Keys::Fixed(key),
        })
    }

    /// A verifier with the keys of a JWKS (RFC 7517) at `url`, fetched on first use and cached.
    /// The set is fetched again when a token names an unknown `kid` or the copy is older than
    /// [`JWKS_MAX_AGE`], at most once per [`JWKS_REFETCH_INTERVAL`]. RSA keys (`n`, `e`) and EC
    /// P-256 keys (`x`, `y`) are used; keys for another `use` than `sig`, of other types or
    /// curves, or declared for another algorithm are skipped.
    pub fn from_jwks_url(url: Url, http: reqwest::Client, settings: JwtSettings) -> Self {
        JwtVerifier {
            settings,
            keys: Keys::Jwks(Box::new(Jwks {
                url,
                http,
                state: Mutex::new(JwksState::default()),
                fetch_turn: tokio::sync::Mutex::new(()),
            })),
        }
    }

    /// Checks `token` (without the `Bearer ` prefix) and returns who sent it.
    pub async fn verify(&self, token: &str) -> Result<Identity, JwtError> {
        // Everything that needs no key comes first, so that garbage never causes a JWKS fetch.
        let parsed = parse(token)?;
        let verified = match &self.keys {
            Keys::Fixed(key) => {
                key.check_fits(parsed.alg)?;
                key.verify(parsed.alg, parsed.signing_input, &parsed.signature)
            }
            Keys::Jwks(jwks) => {
                let candidates = jwks.keys_for(parsed.kid.as_deref(), parsed.alg).await?;
                candidates
                    .iter()
                    .any(|key| key.verify(parsed.alg, parsed.signing_input, &parsed.signature))
            }
        };
        if !verified {
            return Err(JwtError::Signature);
        }
        identity(token, parsed.claims, &self.settings, unix_now())
    }
}

/// The signature algorithms accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alg {
    Rs256,
    Es256,
}

impl Alg {
    fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Es256 => "ES256",
        }
    }
}

/// A public key in the form `ring` verifies with.
#[derive(Clone)]
enum PublicKey {
    /// Modulus and exponent, big-endian without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// The uncompressed point `0x04 || x || y`.
    P256 { point: Vec<u8> },
}

impl PublicKey {
    fn describe(&self) -> String {
        match self {
            PublicKey::Rsa { n, .. } => format!("an RSA key of {} bits", bit_length(n)),
            PublicKey::P256 { .. } => "an EC P-256 key".to_owned(),
        }
    }

    fn fits(&self, alg: Alg) -> bool {
        matches!(
            (self, alg),
            (PublicKey::Rsa { .. }, Alg::Rs256) | (PublicKey::P256 { .. }, Alg::Es256)
        )
    }

    fn check_fits(&self, alg: Alg) -> Result<(), JwtError> {
        if self.fits(alg) {
            Ok(())
        } else {
            Err(JwtError::AlgorithmMismatch {
                alg: alg.name(),
                key: self.describe(),
            })
        }
    }

    fn verify(&self, alg: Alg, message: &[u8], signature: &[u8]) -> bool {
        match (self, alg) {
            (PublicKey::Rsa { n, e }, Alg::Rs256) => RsaPublicKeyComponents {
                n: n.as_slice(),
                e: e.as_slice(),
            }
            .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, signature)
            .is_ok(),
            (PublicKey::P256 { point }, Alg::Es256) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, signature)
                    .is_ok()
            }
            _ => false,
        }
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// Bits in a big-endian number without leading zero bytes.
fn bit_length(bytes: &[u8]) -> usize {
    match bytes.first() {
        Some(&first) => bytes.len() * 8 - first.leading_zeros() as usize,
        None => 0,
    }
}

fn rsa_key(n: &[u8], e: &[u8]) -> Result<PublicKey, String> {
    let n = strip_leading_zeros(n);
    let e = strip_leading_zeros(e);
    let bits = bit_length(n);
    // The same bounds `RSA_PKCS1_2048_8192_SHA256` applies, checked here to fail at start-up with
    // a clear message rather than on every token.
    if !(2048..=8192).contains(&bits) {
        return Err(format!(
            "RSA key has {bits} bits; 2048 to 8192 are accepted"
        ));
    }
    if e.is_empty() || e.len() > 5 || e[e.len() - 1] & 1 == 0 {
        return Err("RSA public exponent is not a small odd number".to_owned());
    }
    Ok(PublicKey::Rsa {
        n: n.to_vec(),
        e: e.to_vec(),
    })
}

fn p256_key(point: &[u8]) -> Result<PublicKey, String> {
    // `ring` verifies with uncompressed points only.
    if point.len() != 65 || point[0] != 0x04 {
        return Err("EC P-256 key is not an uncompressed point of 65 bytes".to_owned());
    }
    Ok(PublicKey::P256 {
        point: point.to_vec(),
    })
}

// DER tags and object identifiers used by the minimal key walk below.
const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30;
const TAG_CERT_VERSION: u8 = 0xa0;
/// 1.2.840.113549.1.1.1, rsaEncryption.
const OID_RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// 1.2.840.10045.2.1, id-ecPublicKey.
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// 1.2.840.10045.3.1.7, prime256v1 (P-256).
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// A reader of consecutive DER elements; just enough to find a public key in a certificate.
struct Der<'a> {
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    fn new(input: &'a [u8]) -> Self {
        Der { rest: input }
    }

    fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next element as (tag, contents, whole encoding).
    fn element(&mut self) -> Result<(u8, &'a [u8], &'a [u8]), String> {
        let truncated = || "DER data is truncated".to_owned();
        let (&tag, after_tag) = self.rest.split_first().ok_or_else(truncated)?;
        if tag & 0x1f == 0x1f {
            return Err("DER tag in the high-number form".to_owned());
        }
        let (&first, after_length) = after_tag.split_first().ok_or_else(truncated)?;
        let (length, body) = if first < 0x80 {
            (usize::from(first), after_length)
        } else {
            let count = usize::from(first & 0x7f);
            // Zero means the indefinite form, which DER forbids; more than four bytes of length
            // would describe more data than any key or certificate holds.
            if count == 0 || count > 4 {
                return Err("DER length is not in definite form of at most 4 bytes".to_owned());
            }
            let digits = after_length.get(..count).ok_or_else(truncated)?;
            let length = digits
                .iter()
                .fold(0usize, |acc, &d| (acc << 8) | usize::from(d));
            (length, &after_length[count..])
        };
        let contents = body.get(..length).ok_or_else(truncated)?;
        let header_len = self.rest.len() - body.len();
        let whole = &self.rest[..header_len + length];
        self.rest = &body[length..];
        Ok((tag, contents, whole))
    }

    /// The contents of the next element, which must carry `tag`.
    fn expect(&mut self, tag: u8, what: &str) -> Result<&'a [u8], String> {
        let (found, contents, _) = self.element()?;
        if found != tag {
            return Err(format!(
                "expected {what} (DER tag {tag:#04x}), found tag {found:#04x}"
            ));
        }
        Ok(contents)
    }
}

/// The key of a DER SubjectPublicKeyInfo.
fn key_from_spki(der: &[u8]) -> Result<PublicKey, String> {
    let mut outer = Der::new(der);
    let spki = outer.expect(TAG_SEQUENCE, "SubjectPublicKeyInfo")?;
    let mut spki = Der::new(spki);
    let algorithm = spki.expect(TAG_SEQUENCE, "AlgorithmIdentifier")?;
    let bits = spki.expect(TAG_BIT_STRING, "subjectPublicKey")?;
    let key = match bits.split_first() {
        Some((0, key)) => key,
        _ => return Err("subjectPublicKey has unused bits".to_owned()),
    };
    let mut algorithm = Der::new(algorithm);
    let oid = algorithm.expect(TAG_OID, "algorithm identifier")?;
    if oid == OID_RSA_ENCRYPTION {
        key_from_pkcs1(key)
    } else if oid == OID_EC_PUBLIC_KEY {
        let curve = algorithm.expect(TAG_OID, "named curve")?;
        if curve != OID_P256 {
            return Err("EC key is not on curve P-256, the only one ES256 uses".to_owned());
        }
        p256_key(key)
    } else {
        Err("key is neither RSA nor EC; only RS256 and ES256 keys are supported".to_owned())
    }
}

/// The key of a DER PKCS#1 RSAPublicKey.
fn key_from_pkcs1(der: &[u8]) -> Result<PublicKey, String> {
    let mut outer = Der::new(der);
    let sequence = outer.expect(TAG_SEQUENCE, "RSAPublicKey")?;
    let mut fields = Der::new(sequence);
    let n = fields.expect(TAG_INTEGER, "RSA modulus")?;
    let e = fields.expect(TAG_INTEGER, "RSA public exponent")?;
    rsa_key(n, e)
}

/// The key of a DER X.509 certificate, without checking the certificate in any way.
fn key_from_certificate(der: &[u8]) -> Result<PublicKey, String> {
    let mut outer = Der::new(der);
    let certificate = outer.expect(TAG_SEQUENCE, "Certificate")?;
    let tbs = Der::new(certificate).expect(TAG_SEQUENCE, "TBSCertificate")?;
    let mut tbs = Der::new(tbs);
    if tbs.peek_tag() == Some(TAG_CERT_VERSION) {
        tbs.element()?;
    }
    tbs.expect(TAG_INTEGER, "serialNumber")?;
    for field in ["signature algorithm", "issuer", "validity", "subject"] {
        tbs.expect(TAG_SEQUENCE, field)?;
    }
    let (tag, _, spki) = tbs.element()?;
    if tag != TAG_SEQUENCE {
        return Err("certificate has no SubjectPublicKeyInfo".to_owned());
    }
    key_from_spki(spki)
}

/// The first PEM block of `pem` as (label, decoded bytes).
fn pem_block(pem: &str) -> Result<(&str, Vec<u8>), String> {
    let mut lines = pem.lines().map(str::trim);
    let label = lines
        .by_ref()
        .find_map(|line| line.strip_prefix("-----BEGIN ")?.strip_suffix("-----"))
        .ok_or("no '-----BEGIN ...-----' line found")?;
    let end = format!("-----END {label}-----");
    let mut body = String::new();
    let mut ended = false;
    for line in lines {
        if line == end {
            ended = true;
            break;
        }
        body.extend(line.chars().filter(|c| !c.is_ascii_whitespace()));
    }
    if !ended {
        return Err(format!("no '{end}' line found"));
    }
    let der = STANDARD
        .decode(body)
        .map_err(|e| format!("PEM body of {label} is not valid base64: {e}"))?;
    Ok((label, der))
}

fn key_from_pem(pem: &str) -> Result<PublicKey, String> {
    let (label, der) = pem_block(pem)?;
    match label {
        "PUBLIC KEY" => key_from_spki(&der),
        "RSA PUBLIC KEY" => key_from_pkcs1(&der),
        "CERTIFICATE" => key_from_certificate(&der),
        other => Err(format!(
            "PEM block '{other}' is not a public key; expected PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE"
        )),
    }
}

/// A token split into what verification needs.
struct ParsedToken<'t> {
    alg: Alg,
    kid: Option<String>,
    /// `header.payload` exactly as sent, the signed bytes.
    signing_input: &'t [u8],
    signature: Vec<u8>,
    claims: Map<String, Value>,
}

/// Text from the token for an error message: quoted, shortened, control characters replaced, so
/// that a hostile value can neither flood a log nor forge log lines.
fn echo(text: &str) -> String {
    let mut out = String::from("'");
    for (i, c) in text.chars().enumerate() {
        if i == MAX_ECHO_CHARS {
            out.push_str("...");
            break;
        }
        out.push(if c.is_control() { '?' } else { c });
    }
    out.push('\'');
    out
}

fn decode_part(part: &str, what: &str) -> Result<Vec<u8>, JwtError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Malformed(format!("{what} is not base64url without padding")))
}

fn decode_json(part: &str, what: &str) -> Result<Map<String, Value>, JwtError> {
    let bytes = decode_part(part, what)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(JwtError::Malformed(format!("{what} is not a JSON object"))),
    }
}

fn parse(token: &str) -> Result<ParsedToken<'_>, JwtError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(JwtError::Malformed(format!(
            "token has {} bytes, more than the limit of {MAX_TOKEN_BYTES}",
            token.len()
        )));
    }
    if token.is_empty() {
        return Err(JwtError::Malformed("token is empty".to_owned()));
    }
    let parts: Vec<&str> = token.split('.').collect();
    let [header_part, payload_part, signature_part] = parts[..] else {
        if parts.len() == 5 {
            return Err(JwtError::Unsupported(
                "encrypted tokens (JWE) are not supported".to_owned(),
            ));
        }
        return Err(JwtError::Malformed(format!(
            "expected 3 parts separated by '.', found {}",
            parts.len()
        )));
    };
    let header = decode_json(header_part, "header")?;
    let alg = match header.get("alg") {
        Some(Value::String(alg)) if alg == "RS256" => Alg::Rs256,
        Some(Value::String(alg)) if alg == "ES256" => Alg::Es256,
        Some(Value::String(alg)) => return Err(JwtError::Algorithm(echo(alg))),
        Some(_) => {
            return Err(JwtError::Malformed(
                "header 'alg' is not a string".to_owned(),
            ));
        }
        None => return Err(JwtError::Malformed("header has no 'alg'".to_owned())),
    };
    // RFC 7515 section 4.1.11: extensions listed as critical must be understood, and this
    // verifier understands none.
    if header.contains_key("crit") {
        return Err(JwtError::Unsupported(
            "header lists critical extensions ('crit'), none of which are supported".to_owned(),
        ));
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => {
            return Err(JwtError::Malformed(
                "header 'kid' is not a string".to_owned(),
            ));
        }
    };
    let claims = decode_json(payload_part, "payload")?;
    let signature = decode_part(signature_part, "signature")?;
    let signing_input = &token.as_bytes()[..header_part.len() + 1 + payload_part.len()];
    Ok(ParsedToken {
        alg,
        kid,
        signing_input,
        signature,
        claims,
    })
}

fn unix_now() -> u64 {
    // A clock before 1970 is a broken clock; treating it as 1970 makes every token look expired.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A NumericDate claim (RFC 7519 section 2) in whole seconds, if present.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<u64>, JwtError> {
    let Some(value) = claims.get(name) else {
        return Ok(None);
    };
    match value.as_f64() {
        // The cast cuts off fractional seconds, which the module documentation states.
        Some(secs) if secs.is_finite() && (0.0..=MAX_NUMERIC_DATE as f64).contains(&secs) => {
            Ok(Some(secs as u64))
        }
        _ => Err(JwtError::Malformed(format!(
            "claim '{name}' is not a number of seconds since 1970 up to the year 9999"
        ))),
    }
}

fn is_leap_year(year: u64) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

/// Seconds since 1970 as an RFC 3339 UTC timestamp. Dates are bounded by the year 9999, so
/// counting whole years is cheap enough and easier to follow than a closed formula.
fn format_unix(secs: u64) -> String {
    let mut days = secs / 86_400;
    let of_day = secs % 86_400;
    let mut year = 1970;
    loop {
        let length = if is_leap_year(year) { 366 } else { 365 };
        if days < length {
            break;
        }
        days -= length;
        year += 1;
    }
    let february = if is_leap_year(year) { 29 } else { 28 };
    let mut month = 1;
    for length in [31, february, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] {
        if days < length {
            break;
        }
        days -= length;
        month += 1;
    }
    format!(
        "{year:04}-{month:02}-{:02}T{:02}:{:02}:{:02}Z",
        days + 1,
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

fn string_claim(claims: &Map<String, Value>, name: &str) -> Option<String> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Checks the claims of a token whose signature is valid, at time `now` (seconds since 1970).
fn identity(
    token: &str,
    claims: Map<String, Value>,
    settings: &JwtSettings,
    now: u64,
) -> Result<Identity, JwtError> {
    let leeway = settings.leeway.as_secs();
    let exp = numeric_date(&claims, "exp")?.ok_or(JwtError::MissingClaim("exp"))?;
    // RFC 7519 section 4.1.4: the current time must be before `exp`.
    if now >= exp.saturating_add(leeway) {
        return Err(JwtError::Expired(format_unix(exp)));
    }
    if let Some(nbf) = numeric_date(&claims, "nbf")?
        && nbf > now.saturating_add(leeway)
    {
        return Err(JwtError::NotYetValid(format_unix(nbf)));
    }
    if let Some(iat) = numeric_date(&claims, "iat")?
        && iat > now.saturating_add(leeway)
    {
        return Err(JwtError::IssuedInFuture(format_unix(iat)));
    }
    if let Some(expected) = &settings.issuer {
        match claims.get("iss") {
            None => return Err(JwtError::MissingClaim("iss")),
            Some(Value::String(iss)) if iss == expected => {}
            Some(Value::String(iss)) => return Err(JwtError::Issuer(echo(iss))),
            Some(_) => {
                return Err(JwtError::Malformed(
                    "claim 'iss' is not a string".to_owned(),
                ));
            }
        }
    }
    if !settings.audiences.is_empty() {
        check_audience(&claims, &settings.audiences)?;
    }
    let subject = string_claim(&claims, "sub").ok_or(JwtError::MissingClaim("sub"))?;
    let email = string_claim(&claims, "email");
    let user = string_claim(&claims, "user_name")
        .or_else(|| email.clone())
        .unwrap_or_else(|| subject.clone());
    Ok(Identity {
        tenant: string_claim(&claims, "zid"),
        user,
        email,
        subject,
        expires_at: UNIX_EPOCH + Duration::from_secs(exp),
        token: Arc::from(token),
        claims,
    })
}

fn check_audience(claims: &Map<String, Value>, accepted: &[String]) -> Result<(), JwtError> {
    let found: Vec<&str> = match claims.get("aud") {
        None => return Err(JwtError::MissingClaim("aud")),
        Some(Value::String(aud)) => vec![aud.as_str()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str().ok_or_else(|| {
                    JwtError::Malformed("claim 'aud' holds something other than strings".to_owned())
                })
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(JwtError::Malformed(
                "claim 'aud' is neither a string nor an array of strings".to_owned(),
            ));
        }
    };
    if found.iter().any(|aud| accepted.iter().any(|a| a == aud)) {
        return Ok(());
    }
    // A few names are enough for the client to see which token it sent.
    let mut shown: Vec<String> = found.iter().take(5).map(|aud| echo(aud)).collect();
    if found.len() > shown.len() {
        shown.push(format!("and {} more", found.len() - shown.len()));
    }
    Err(JwtError::Audience(format!("[{}]", shown.join(", "))))
}

/// A JWKS URL with its cached keys.
struct Jwks {
    url: Url,
    http: reqwest::Client,
    state: Mutex<JwksState>,
    /// Held while fetching, so that concurrent requests wait for one fetch instead of each
    /// starting their own.
    fetch_turn: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct JwksState {
    /// The last key set fetched successfully.
    keys: Option<Arc<Vec<NamedKey>>>,
    /// When `keys` was fetched.
    fetched_at: Option<Instant>,
    /// When the last fetch that counts against [`JWKS_REFETCH_INTERVAL`] happened: every fetch
    /// except the first successful one.
    throttled_since: Option<Instant>,
    /// Fetches attempted so far, to notice a fetch made by someone else while waiting.
    attempts: u64,
    /// Why the last fetch failed, repeated while no fetch is allowed.
    last_error: Option<String>,
}

struct NamedKey {
    kid: Option<String>,
    key: PublicKey,
}

/// What a key set holds for a token.
enum Lookup {
    Found(Vec<PublicKey>),
    Mismatch(JwtError),
    Missing,
}

fn lookup(keys: &[NamedKey], kid: Option<&str>, alg: Alg) -> Lookup {
    match kid {
        Some(kid) => {
            let named: Vec<&PublicKey> = keys
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid))
                .map(|k| &k.key)
                .collect();
            let Some(first) = named.first() else {
                return Lookup::Missing;
            };
            let fitting: Vec<PublicKey> = named
                .iter()
                .filter(|k| k.fits(alg))
                .map(|&k| k.clone())
                .collect();
            if fitting.is_empty() {
                // A kid naming a key of the other type is an attack or a misconfiguration; in
                // neither case would fetching the set again help.
                match first.check_fits(alg) {
                    Err(mismatch) => Lookup::Mismatch(mismatch),
                    Ok(()) => Lookup::Missing,
                }
            } else {
                Lookup::Found(fitting)
            }
        }
        None => {
            let fitting: Vec<PublicKey> = keys
                .iter()
                .filter(|k| k.key.fits(alg))
                .map(|k| k.key.clone())
                .collect();
            if fitting.is_empty() {
                Lookup::Missing
            } else {
                Lookup::Found(fitting)
            }
        }
    }
}

impl Jwks {
    fn state(&self) -> MutexGuard<'_, JwksState> {
        // Every update of the state is a set of plain assignments that cannot panic halfway, so
        // the data behind a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn url_for_errors(&self) -> String {
        let mut url = self.url.clone();
        // Credentials in the URL must not reach API clients; both calls fail only for URLs that
        // cannot carry credentials anyway.
        let _ = url.set_password(None);
        let _ = url.set_username("");
        url.to_string()
    }

    /// The keys a token with `kid` and `alg` may be verified with.
    async fn keys_for(&self, kid: Option<&str>, alg: Alg) -> Result<Vec<PublicKey>, JwtError> {
        let seen_attempts = {
            let state = self.state();
            let fresh = state
                .fetched_at
                .is_some_and(|at| at.elapsed() < JWKS_MAX_AGE);
            if let (Some(keys), true) = (&state.keys, fresh) {
                match lookup(keys, kid, alg) {
                    Lookup::Found(found) => return Ok(found),
                    Lookup::Mismatch(error) => return Err(error),
                    Lookup::Missing => {}
                }
            }
            state.attempts
        };

        let _turn = self.fetch_turn.lock().await;
        let may_fetch = {
            let state = self.state();
            // Someone else fetched while this task waited: use their result.
            state.attempts == seen_attempts
                && state
                    .throttled_since
                    .is_none_or(|at| at.elapsed() >= JWKS_REFETCH_INTERVAL)
        };
        if may_fetch {
            let result = fetch_jwks(&self.http, &self.url).await;
            let mut state = self.state();
            state.attempts += 1;
            let now = Instant::now();
            match result {
                Ok(keys) => {
                    tracing::debug!(url = %self.url, keys = keys.len(), "fetched JWKS");
                    if state.keys.is_some() {
                        state.throttled_since = Some(now);
                    }
                    state.keys = Some(Arc::new(keys));
                    state.fetched_at = Some(now);
                    state.last_error = None;
                }
                Err(cause) => {
                    tracing::warn!(url = %self.url, %cause, "cannot fetch JWKS");
                    state.throttled_since = Some(now);
                    state.last_error = Some(cause);
                }
            }
        }

        let state = self.state();
        let Some(keys) = &state.keys else {
            return Err(JwtError::Jwks {
                url: self.url_for_errors(),
                cause: state
                    .last_error
                    .clone()
                    .unwrap_or_else(|| "no key set fetched yet".to_owned()),
            });
        };
        match lookup(keys, kid, alg) {
            Lookup::Found(found) => Ok(found),
            Lookup::Mismatch(error) => Err(error),
            Lookup::Missing => Err(match kid {
                Some(kid) => JwtError::UnknownKid {
                    kid: echo(kid),
                    url: self.url_for_errors(),
                },
                None => JwtError::NoKeyForAlgorithm {
                    alg: alg.name(),
                    url: self.url_for_errors(),
                },
            }),
        }
    }
}

/// An error with its causes, which for HTTP errors hold the useful part ("connection refused").
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

async fn fetch_jwks(http: &reqwest::Client, url: &Url) -> Result<Vec<NamedKey>, String> {
    // The URL is part of every message built from this result, so the HTTP errors drop theirs.
    let mut response = http
        .get(url.clone())
        .header("Accept", "application/json")
        .timeout(JWKS_TIMEOUT)
        .send()
        .await
        .map_err(|e| error_chain(&e.without_url()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("the server answered HTTP {}", status.as_u16()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| error_chain(&e.without_url()))?
    {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err(format!(
                "the response is larger than {MAX_JWKS_BYTES} bytes"
            ));
        }
        body.extend_from_slice(&chunk);
    }
    parse_jwks(&body)
}

#[derive(Deserialize)]
struct JwkSetDocument {
    keys: Vec<Value>,
}

#[derive(Deserialize)]
struct JwkDocument {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    alg: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

fn parse_jwks(body: &[u8]) -> Result<Vec<NamedKey>, String> {
    let document: JwkSetDocument = serde_json::from_slice(body)
        .map_err(|e| format!("the response is not a JWK set (a JSON object with 'keys'): {e}"))?;
    let mut keys = Vec::new();
    for (index, value) in document.keys.into_iter().enumerate() {
        if keys.len() == MAX_JWKS_KEYS {
            tracing::warn!(
                "JWKS holds more than {MAX_JWKS_KEYS} usable keys; the rest are ignored"
            );
            break;
        }
        let jwk: JwkDocument = match serde_json::from_value(value) {
            Ok(jwk) => jwk,
            Err(e) => {
                tracing::warn!(index, error = %e, "skipping a JWK that is not a JSON key object");
                continue;
            }
        };
        match key_from_jwk(&jwk) {
            Ok(Some(key)) => keys.push(NamedKey { kid: jwk.kid, key }),
            Ok(None) => {
                tracing::debug!(index, kty = %jwk.kty, "skipping a JWK not usable for RS256/ES256")
            }
            Err(e) => tracing::warn!(index, error = %e, "skipping an invalid JWK"),
        }
    }
    Ok(keys)
}

/// The key of a JWK; `None` for keys of other uses, types, curves or algorithms.
fn key_from_jwk(jwk: &JwkDocument) -> Result<Option<PublicKey>, String> {
    if jwk.usage.as_deref().is_some_and(|usage| usage != "sig") {
        return Ok(None);
    }
    let declared_alg_is = |name: &str| jwk.alg.as_deref().is_none_or(|alg| alg == name);
    let member = |value: &Option<String>, name: &str| -> Result<Vec<u8>, String> {
        let text = value
            .as_deref()
            .ok_or_else(|| format!("{} key has no '{name}'", jwk.kty))?;
        URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| format!("'{name}' is not base64url without padding"))
    };
    match jwk.kty.as_str() {
        "RSA" if declared_alg_is("RS256") => {
            rsa_key(&member(&jwk.n, "n")?, &member(&jwk.e, "e")?).map(Some)
        }
        "EC" if jwk.crv.as_deref() == Some("P-256") && declared_alg_is("ES256") => {
            let x = member(&jwk.x, "x")?;
            let y = member(&jwk.y, "y")?;
            if x.len() != 32 || y.len() != 32 {
                return Err("P-256 coordinates are not 32 bytes each".to_owned());
            }
            let mut point = Vec::with_capacity(65);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            p256_key(&point).map(Some)
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_dates_across_leap_years() {
        assert_eq!(format_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_unix(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_unix(1_767_225_599), "2025-12-31T23:59:59Z");
        assert_eq!(format_unix(MAX_NUMERIC_DATE), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn echo_shortens_and_neutralises_control_characters() {
        assert_eq!(echo("a\nb"), "'a?b'");
        let long = "x".repeat(200);
        assert_eq!(echo(&long).len(), MAX_ECHO_CHARS + 5);
    }

    #[test]
    fn der_reader_refuses_truncated_and_indefinite_lengths() {
        assert!(Der::new(&[0x30, 0x05, 0x00]).element().is_err());
        assert!(Der::new(&[0x30, 0x80, 0x00, 0x00]).element().is_err());
        let mut der = Der::new(&[0x02, 0x01, 0x07, 0x05, 0x00]);
        assert_eq!(der.expect(TAG_INTEGER, "integer"), Ok(&[0x07][..]));
        assert!(der.expect(TAG_INTEGER, "integer").is_err());
    }
}
