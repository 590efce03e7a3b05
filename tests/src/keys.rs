//! Test key material made by the real `openssl` command: an RSA key with a self-signed
//! certificate (for SAML signing and RS256 JWTs) and a P-256 key (for ES256 JWTs).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// An RSA key pair with a self-signed certificate, as PEM files in a folder.
#[derive(Debug, Clone)]
pub struct RsaMaterial {
    /// PKCS#8 private key, PEM.
    pub key_pem: String,
    /// X.509 certificate, PEM.
    pub cert_pem: String,
    /// SubjectPublicKeyInfo public key, PEM.
    pub public_pem: String,
    /// PKCS#8 private key, DER (for `ring::signature::RsaKeyPair::from_pkcs8`).
    pub key_pkcs8_der: Vec<u8>,
    /// Where the key is stored.
    pub key_path: PathBuf,
    /// Where the certificate is stored.
    pub cert_path: PathBuf,
}

fn openssl(args: &[&str]) -> Result<Vec<u8>> {
    let output = Command::new("openssl")
        .args(args)
        .output()
        .context("running openssl")?;
    if !output.status.success() {
        bail!(
            "openssl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(output.stdout)
}

/// Makes a 2048-bit RSA key and a self-signed certificate (common name `cn`) in `dir`.
pub fn rsa_with_certificate(dir: &Path, cn: &str) -> Result<RsaMaterial> {
    std::fs::create_dir_all(dir)?;
    let key_path = dir.join(format!("{cn}.key.pem"));
    let cert_path = dir.join(format!("{cn}.cert.pem"));
    let key = key_path.to_str().context("key path")?;
    let cert = cert_path.to_str().context("cert path")?;
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        key,
        "-out",
        cert,
        "-days",
        "2",
        "-subj",
        &format!("/CN={cn}"),
    ])?;
    let public_pem = String::from_utf8(openssl(&["pkey", "-in", key, "-pubout"])?)?;
    let key_pkcs8_der = openssl(&["pkcs8", "-topk8", "-nocrypt", "-in", key, "-outform", "DER"])?;
    Ok(RsaMaterial {
        key_pem: std::fs::read_to_string(&key_path)?,
        cert_pem: std::fs::read_to_string(&cert_path)?,
        public_pem,
        key_pkcs8_der,
        key_path,
        cert_path,
    })
}

/// A P-256 key pair made by openssl.
#[derive(Debug, Clone)]
pub struct EcMaterial {
    /// PKCS#8 private key, DER (for `ring::signature::EcdsaKeyPair::from_pkcs8`).
    pub key_pkcs8_der: Vec<u8>,
    /// SubjectPublicKeyInfo public key, PEM.
    pub public_pem: String,
}

/// Makes a P-256 key in `dir`.
pub fn p256(dir: &Path, name: &str) -> Result<EcMaterial> {
    std::fs::create_dir_all(dir)?;
    let key_path = dir.join(format!("{name}.ec.pem"));
    let key = key_path.to_str().context("key path")?;
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        key,
    ])?;
    let key_pkcs8_der = openssl(&["pkcs8", "-topk8", "-nocrypt", "-in", key, "-outform", "DER"])?;
    let public_pem = String::from_utf8(openssl(&["pkey", "-in", key, "-pubout"])?)?;
    Ok(EcMaterial {
        key_pkcs8_der,
        public_pem,
    })
}

/// A fresh folder under the target directory for one test's files.
pub fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bizgraph-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}
