//! TLS to the target, with libpq's `sslmode` semantics, on rustls.
//!
//! | sslmode | encryption | server certificate checked |
//! |---|---|---|
//! | `disable` | no | — |
//! | `prefer` (default) | if the server offers it | only if a root certificate is given |
//! | `require` | yes | only if a root certificate is given (as libpq) |
//! | `verify-ca` | yes | chain to the root certificate |
//! | `verify-full` | yes | chain, and the host name |
//!
//! The root certificate is `sslrootcert` (or `PGSSLROOTCERT`, or `~/.postgresql/root.crt`);
//! a client certificate is `sslcert`/`sslkey` (or `PGSSLCERT`/`PGSSLKEY`, or
//! `~/.postgresql/postgresql.crt`/`.key` when present).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Never encrypt.
    Disable,
    /// Encrypt when the server offers it.
    Prefer,
    /// Always encrypt.
    Require,
    /// Encrypt and check the certificate chain.
    VerifyCa,
    /// Encrypt and check the chain and the host name.
    VerifyFull,
}

impl SslMode {
    /// Parses a libpq `sslmode` value.
    pub fn parse(v: &str) -> Option<SslMode> {
        Some(match v {
            "disable" => SslMode::Disable,
            "allow" | "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }
}

/// The TLS part of a target.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// The mode.
    pub mode: SslMode,
    /// `sslrootcert`.
    pub root_cert: Option<PathBuf>,
    /// `sslcert`.
    pub client_cert: Option<PathBuf>,
    /// `sslkey`.
    pub client_key: Option<PathBuf>,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            mode: SslMode::Prefer,
            root_cert: None,
            client_cert: None,
            client_key: None,
        }
    }
}

fn home_file(name: &str) -> Option<PathBuf> {
    let p = PathBuf::from(std::env::var_os("HOME")?)
        .join(".postgresql")
        .join(name);
    p.exists().then_some(p)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read certificates from {}: {e}", path.display()))?
        .collect();
    let certs = certs.map_err(|e| format!("{}: not PEM certificates: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no certificate", path.display()));
    }
    Ok(certs)
}

impl TlsSettings {
    /// The rustls configuration for this mode, or `None` for `disable`.
    pub fn client_config(&self) -> Result<Option<ClientConfig>, String> {
        if self.mode == SslMode::Disable {
            return Ok(None);
        }
        let root = self.root_cert.clone().or_else(|| home_file("root.crt"));
        let verifier: Arc<dyn ServerCertVerifier> = match (&root, self.mode) {
            (None, SslMode::VerifyCa | SslMode::VerifyFull) => {
                return Err(format!(
                    "sslmode={} needs the root certificate that signed the server's: give \
                     sslrootcert=PATH (or PGSSLROOTCERT, or ~/.postgresql/root.crt)",
                    if self.mode == SslMode::VerifyCa {
                        "verify-ca"
                    } else {
                        "verify-full"
                    }
                ))
            }
            (None, _) => Arc::new(Unchecked(provider())),
            (Some(path), mode) => {
                let mut roots = RootCertStore::empty();
                for c in read_certs(path)? {
                    roots.add(c).map_err(|e| {
                        format!("{}: not a usable root certificate: {e}", path.display())
                    })?;
                }
                let webpki =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
                        .build()
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                if mode == SslMode::VerifyFull {
                    webpki
                } else {
                    Arc::new(ChainOnly(webpki))
                }
            }
        };
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let cert = self
            .client_cert
            .clone()
            .or_else(|| home_file("postgresql.crt"));
        let key = self
            .client_key
            .clone()
            .or_else(|| home_file("postgresql.key"));
        let config = match (cert, key) {
            (Some(cert), Some(key)) => {
                let chain = read_certs(&cert)?;
                let key = PrivateKeyDer::from_pem_file(&key)
                    .map_err(|e| format!("cannot read the client key {}: {e}", key.display()))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| format!("the client certificate and key do not fit: {e}"))?
            }
            (Some(c), None) | (None, Some(c)) if self.client_cert.is_some() || self.client_key.is_some() => {
                return Err(format!(
                    "{} is given without its pair: a client certificate needs both sslcert and sslkey",
                    c.display()
                ))
            }
            _ => builder.with_no_client_auth(),
        };
        Ok(Some(config))
    }
}

/// Checks the chain to the root certificate but not the host name (`verify-ca`).
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Encrypts without checking who answers (`require` and `prefer` without a root
/// certificate, as libpq does): the handshake signatures are still checked.
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Splits the TLS options lite2pg handles itself (`sslmode` values tokio-postgres does not
/// know, `sslrootcert`, `sslcert`, `sslkey`) out of a URL or key/value string.
pub fn split(conn: &str) -> (String, Vec<(String, String)>) {
    const KEYS: [&str; 4] = ["sslmode", "sslrootcert", "sslcert", "sslkey"];
    let mut taken = Vec::new();
    if conn.contains("://") {
        let Some((base, query)) = conn.split_once('?') else {
            return (conn.to_string(), taken);
        };
        let mut kept = Vec::new();
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some((k, v)) if KEYS.contains(&k) => taken.push((k.to_string(), v.to_string())),
                _ => kept.push(pair),
            }
        }
        let rest = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        (rest, taken)
    } else {
        let mut kept = Vec::new();
        for part in conn.split_whitespace() {
            match part.split_once('=') {
                Some((k, v)) if KEYS.contains(&k.trim()) => {
                    taken.push((k.trim().to_string(), v.trim_matches('\'').to_string()))
                }
                _ => kept.push(part),
            }
        }
        (kept.join(" "), taken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_options_are_taken_out_of_urls_and_key_value_strings() {
        let (rest, taken) =
            split("postgres://u@h/db?sslmode=verify-full&application_name=x&sslrootcert=/ca.pem");
        assert_eq!(rest, "postgres://u@h/db?application_name=x");
        assert_eq!(
            taken,
            vec![
                ("sslmode".into(), "verify-full".into()),
                ("sslrootcert".into(), "/ca.pem".into())
            ]
        );
        let (rest, taken) = split("host=h dbname=d sslmode=require");
        assert_eq!(rest, "host=h dbname=d");
        assert_eq!(taken, vec![("sslmode".into(), "require".into())]);
        assert_eq!(SslMode::parse("verify-ca"), Some(SslMode::VerifyCa));
        assert_eq!(SslMode::parse("bogus"), None);
    }

    #[test]
    fn verify_modes_without_a_root_certificate_say_what_is_missing() {
        let s = TlsSettings {
            mode: SslMode::VerifyFull,
            ..TlsSettings::default()
        };
        assert!(s.client_config().unwrap_err().contains("sslrootcert"));
    }
}
