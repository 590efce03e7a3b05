//! SAML 2.0 bearer assertions for the stand-ins: building a minimal assertion, signing it with
//! Python signxml (RSA-SHA256, exclusive canonicalization, enveloped) and verifying one with the
//! project's `python/verify_saml.py`.
//!
//! The XML is produced and checked by real XML-signature code rather than by Rust string
//! matching, so a gateway-made assertion that passes here would also pass a real token service.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use serde::Deserialize;

/// SAML's name identifier format for "unspecified".
pub const NAME_ID_UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
/// The bearer subject confirmation method RFC 7522 section 3 requires.
pub const BEARER_METHOD: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
/// The authentication context SAP destinations default to.
pub const PREVIOUS_SESSION: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:PreviousSession";

/// The contents of a minimal SAML 2.0 bearer assertion. Times are seconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlAssertion {
    /// `ID`; must start with a letter or underscore to be a valid XML ID.
    pub id: String,
    /// `IssueInstant`.
    pub issue_instant: i64,
    /// `Issuer`.
    pub issuer: String,
    /// `Subject/NameID`.
    pub name_id: String,
    /// `NameID/@Format`.
    pub name_id_format: String,
    /// `Conditions/AudienceRestriction/Audience`.
    pub audience: String,
    /// `SubjectConfirmationData/@Recipient`: the token endpoint URL.
    pub recipient: String,
    /// `Conditions/@NotBefore`.
    pub not_before: i64,
    /// `Conditions/@NotOnOrAfter` and `SubjectConfirmationData/@NotOnOrAfter`.
    pub not_on_or_after: i64,
    /// `AuthnStatement/AuthnContext/AuthnContextClassRef`.
    pub authn_context_class_ref: String,
    /// `AuthnStatement/@SessionIndex`.
    pub session_index: String,
}

impl SamlAssertion {
    /// An assertion issued now and valid for ten minutes, with a fresh ID.
    pub fn new(issuer: &str, name_id: &str, audience: &str, recipient: &str) -> Self {
        let now = super::unix_now();
        Self {
            id: format!("_{}", super::random_hex(16)),
            issue_instant: now,
            issuer: issuer.to_owned(),
            name_id: name_id.to_owned(),
            name_id_format: NAME_ID_UNSPECIFIED.to_owned(),
            audience: audience.to_owned(),
            recipient: recipient.to_owned(),
            not_before: now - 60,
            not_on_or_after: now + 600,
            authn_context_class_ref: PREVIOUS_SESSION.to_owned(),
            session_index: format!("_{}", super::random_hex(8)),
        }
    }

    /// The unsigned XML, compact, with a `ds:Signature` placeholder right after `Issuer`, where
    /// the SAML schema wants the signature; signxml fills the placeholder in place.
    pub fn to_xml(&self) -> String {
        let issue = format_instant(self.issue_instant);
        let before = format_instant(self.not_before);
        let after = format_instant(self.not_on_or_after);
        format!(
            concat!(
                r#"<saml2:Assertion xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" IssueInstant="{issue}" Version="2.0">"#,
                r#"<saml2:Issuer>{issuer}</saml2:Issuer>"#,
                r#"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Id="placeholder"></ds:Signature>"#,
                r#"<saml2:Subject><saml2:NameID Format="{format}">{name_id}</saml2:NameID>"#,
                r#"<saml2:SubjectConfirmation Method="{method}">"#,
                r#"<saml2:SubjectConfirmationData NotOnOrAfter="{after}" Recipient="{recipient}"/>"#,
                r#"</saml2:SubjectConfirmation></saml2:Subject>"#,
                r#"<saml2:Conditions NotBefore="{before}" NotOnOrAfter="{after}">"#,
                r#"<saml2:AudienceRestriction><saml2:Audience>{audience}</saml2:Audience></saml2:AudienceRestriction>"#,
                r#"</saml2:Conditions>"#,
                r#"<saml2:AuthnStatement AuthnInstant="{issue}" SessionIndex="{session}">"#,
                r#"<saml2:AuthnContext><saml2:AuthnContextClassRef>{context}</saml2:AuthnContextClassRef></saml2:AuthnContext>"#,
                r#"</saml2:AuthnStatement></saml2:Assertion>"#
            ),
            id = escape(&self.id),
            issue = issue,
            issuer = escape(&self.issuer),
            format = escape(&self.name_id_format),
            name_id = escape(&self.name_id),
            method = BEARER_METHOD,
            after = after,
            recipient = escape(&self.recipient),
            before = before,
            audience = escape(&self.audience),
            session = escape(&self.session_index),
            context = escape(&self.authn_context_class_ref),
        )
    }

    /// The XML signed with the PEM key and certificate at the given paths.
    pub fn sign(&self, key_pem: &Path, cert_pem: &Path) -> anyhow::Result<String> {
        sign_xml(&self.to_xml(), key_pem, cert_pem)
    }
}

/// Escapes text for use in XML content and double-quoted attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            other => out.push(other),
        }
    }
    out
}

/// The signing program: reads XML on stdin, signs the root enveloped with a reference to its
/// `ID`, and writes the signed XML. The algorithms are the ones SAP token services accept.
const SIGN_SCRIPT: &str = r##"
import sys
from lxml import etree
import signxml
key = open(sys.argv[1], "rb").read()
cert = open(sys.argv[2], "rb").read()
root = etree.fromstring(sys.stdin.buffer.read())
signer = signxml.XMLSigner(
    method=signxml.methods.enveloped,
    signature_algorithm="rsa-sha256",
    digest_algorithm="sha256",
    c14n_algorithm="http://www.w3.org/2001/10/xml-exc-c14n#",
)
signed = signer.sign(root, key=key, cert=cert, reference_uri="#" + root.get("ID"))
sys.stdout.buffer.write(etree.tostring(signed))
"##;

/// Signs `xml` (whose root carries an `ID` attribute) with Python signxml.
pub fn sign_xml(xml: &str, key_pem: &Path, cert_pem: &Path) -> anyhow::Result<String> {
    let output = run_python(
        Command::new("python3")
            .arg("-c")
            .arg(SIGN_SCRIPT)
            .arg(key_pem)
            .arg(cert_pem),
        xml.as_bytes(),
    )
    .context("running python3 with signxml to sign a SAML assertion")?;
    if !output.status.success() {
        bail!(
            "signxml could not sign the assertion: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8(output.stdout)?)
}

/// Runs a Python command with `input` on stdin and collects its output.
fn run_python(command: &mut Command, input: &[u8]) -> std::io::Result<std::process::Output> {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        // The scripts read all of stdin before writing anything, so writing first cannot block
        // on a full output pipe. Dropping stdin closes it and ends their read.
        stdin.write_all(input)?;
    }
    child.wait_with_output()
}

/// The project's SAML verifier, `tests/python/verify_saml.py`.
pub fn default_verifier() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/python/verify_saml.py"
    ))
}

/// What the verifier reports about an assertion whose signature it accepted. Absent elements
/// come back as `None`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct VerifiedAssertion {
    /// `Assertion/@ID`.
    pub id: Option<String>,
    /// `Assertion/@IssueInstant`.
    pub issue_instant: Option<String>,
    /// `Issuer`.
    pub issuer: Option<String>,
    /// `Subject/NameID`.
    pub name_id: Option<String>,
    /// `NameID/@Format`.
    pub name_id_format: Option<String>,
    /// `NameID/@NameQualifier`.
    pub name_qualifier: Option<String>,
    /// `AudienceRestriction/Audience`.
    pub audience: Option<String>,
    /// `SubjectConfirmationData/@Recipient`.
    pub recipient: Option<String>,
    /// The assertion's expiry.
    pub not_on_or_after: Option<String>,
    /// `Conditions/@NotBefore`.
    pub not_before: Option<String>,
    /// `AuthnContextClassRef`.
    pub authn_context_class_ref: Option<String>,
    /// `AuthnStatement/@SessionIndex`.
    pub session_index: Option<String>,
    /// `SubjectConfirmation/@Method`.
    pub subject_confirmation_method: Option<String>,
}

/// Verifies the signature of `xml` against the PEM certificate with the Python verifier at
/// `script`. The error is the verifier's reason, or why it could not be run.
pub fn verify_assertion(
    xml: &[u8],
    cert_pem: &Path,
    script: &Path,
) -> Result<VerifiedAssertion, String> {
    if !script.exists() {
        return Err(format!(
            "the SAML verifier {} does not exist",
            script.display()
        ));
    }
    let output = run_python(
        Command::new("python3")
            .arg(script)
            .arg("--cert")
            .arg(cert_pem),
        xml,
    )
    .map_err(|error| format!("cannot run python3 {}: {error}", script.display()))?;
    if !output.status.success() {
        let reason = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        return Err(if reason.is_empty() {
            "signature verification failed".to_owned()
        } else {
            reason
        });
    }
    serde_json::from_slice(&output.stdout)
        .map_err(|error| format!("the verifier printed no usable JSON: {error}"))
}

/// Formats seconds since the Unix epoch as SAML's `xs:dateTime` in UTC, `2024-05-01T12:00:00Z`.
pub fn format_instant(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let seconds = unix.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// Parses an `xs:dateTime` with a `Z` or `±HH:MM` zone (fractions of a second are dropped) into
/// seconds since the Unix epoch. A time without a zone is taken as UTC, as SAML requires UTC.
pub fn parse_instant(text: &str) -> Option<i64> {
    let text = text.trim();
    let (date, rest) = text.split_once('T')?;
    let mut date_parts = date.splitn(3, '-');
    let year: i64 = date_parts.next()?.parse().ok()?;
    let month: u32 = date_parts.next()?.parse().ok()?;
    let day: u32 = date_parts.next()?.parse().ok()?;
    let (clock, offset) = split_zone(rest)?;
    let clock = clock.split('.').next()?;
    let mut clock_parts = clock.splitn(3, ':');
    let hour: i64 = clock_parts.next()?.parse().ok()?;
    let minute: i64 = clock_parts.next()?.parse().ok()?;
    let second: i64 = clock_parts.next()?.parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// Splits `12:00:00+02:00` into the clock and the zone offset in seconds.
fn split_zone(rest: &str) -> Option<(&str, i64)> {
    if let Some(clock) = rest.strip_suffix('Z') {
        return Some((clock, 0));
    }
    if let Some(position) = rest.rfind(['+', '-']) {
        let (clock, zone) = rest.split_at(position);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let (hours, minutes) = zone[1..].split_once(':')?;
        let offset = hours.parse::<i64>().ok()? * 3600 + minutes.parse::<i64>().ok()? * 60;
        return Some((clock, sign * offset));
    }
    Some((rest, 0))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let shifted_month = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * shifted_month + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day count since 1970-01-01, the inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both values are small by construction (1..=12 and 1..=31), so the conversions are exact.
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}
