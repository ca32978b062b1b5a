//! TLS client settings: the OS trust store (plus an optional extra CA file), cached per process, with TLS
//! session resumption; and messages that name the cause of a handshake failure.
//!
//! One `rustls::ClientConfig` exists per distinct trust setting (no extra file, or an extra file identified
//! by path, size and modification time). Reusing it keeps the parsed trust roots and the session cache, so a
//! repeated call neither re-reads the CA bundle nor repeats a full handshake.

use crate::error::{Error, Result};
use crate::status::Status;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::SystemTime;

type CacheKey = Option<(PathBuf, u64, Option<SystemTime>)>;

static CONFIGS: LazyLock<Mutex<HashMap<CacheKey, Arc<rustls::ClientConfig>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Bound on cached configurations (distinct CA files); old ones are dropped past it.
const MAX_CACHED_CONFIGS: usize = 16;

/// The client configuration for this trust setting, built once per process.
pub fn client_config(extra_ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>> {
    let key: CacheKey = match extra_ca_file {
        None => None,
        Some(path) => {
            let meta = std::fs::metadata(path).map_err(|e| {
                Error::new(
                    Status::InvalidFile,
                    format!("cannot read the extra CA file '{}': {e}", path.display()),
                )
            })?;
            Some((path.to_path_buf(), meta.len(), meta.modified().ok()))
        }
    };
    let mut cache = CONFIGS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(config) = cache.get(&key) {
        return Ok(Arc::clone(config));
    }
    let config = Arc::new(build(extra_ca_file)?);
    if cache.len() >= MAX_CACHED_CONFIGS {
        cache.clear();
    }
    cache.insert(key, Arc::clone(&config));
    Ok(config)
}

fn build(extra_ca_file: Option<&Path>) -> Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = match extra_ca_file {
        None => rustls_platform_verifier::Verifier::new(Arc::clone(&provider)),
        Some(path) => rustls_platform_verifier::Verifier::new_with_extra_roots(
            read_pem_certificates(path)?,
            Arc::clone(&provider),
        ),
    }
    .map_err(|e| {
        Error::new(
            Status::TlsFailed,
            format!("cannot load the OS trust store: {e}"),
        )
    })?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(Status::Internal, format!("TLS configuration: {e}")))?
        .dangerous() // a custom verifier: the OS one (this is how rustls-platform-verifier is used)
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    // Resumption: rustls keeps an in-memory session cache per config by default (256 servers).
    Ok(config)
}

fn read_pem_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let iter = CertificateDer::pem_file_iter(path).map_err(|e| {
        Error::new(
            Status::InvalidFile,
            format!("cannot read the extra CA file '{}': {e}", path.display()),
        )
    })?;
    let certs: Vec<CertificateDer<'static>> =
        iter.collect::<std::result::Result<_, _>>().map_err(|e| {
            Error::new(
                Status::InvalidFile,
                format!(
                    "cannot parse the extra CA file '{}' as PEM: {e}",
                    path.display()
                ),
            )
        })?;
    if certs.is_empty() {
        return Err(Error::new(
            Status::InvalidFile,
            format!(
                "the extra CA file '{}' contains no PEM certificate",
                path.display()
            ),
        ));
    }
    Ok(certs)
}

/// What went wrong in a handshake, in words an administrator can act on.
pub fn describe_tls_error(e: &rustls::Error) -> String {
    use rustls::{AlertDescription as A, CertificateError as C, Error as E, PeerIncompatible as P};
    let trust_hint = "If the server certificate comes from an enterprise CA, install that CA in the OS trust \
                      store or pass it as the extra CA file";
    match e {
        E::AlertReceived(A::ProtocolVersion)
        | E::PeerIncompatible(P::ServerTlsVersionIsDisabledByOurConfig)
        | E::PeerIncompatible(P::ServerDoesNotSupportTls12Or13)
        | E::PeerIncompatible(P::Tls12NotOffered)
        | E::PeerIncompatible(P::Tls12NotOfferedOrEnabled) => {
            "the server offers only TLS versions older than 1.2 (TLS 1.0/1.1 are refused); enable TLS 1.2 on \
             the server (IIS: SChannel protocol settings)"
                .into()
        }
        E::AlertReceived(A::HandshakeFailure) | E::PeerIncompatible(P::NoCipherSuitesInCommon) => {
            "the server refused the handshake: no TLS version or cipher suite in common (the server may allow \
             only legacy ciphers; enable TLS 1.2 with ECDHE-AES-GCM suites)"
                .into()
        }
        E::InvalidCertificate(c) => match c {
            C::UnknownIssuer => format!(
                "the server certificate is not trusted: its issuer is not in the trust store. {trust_hint}"
            ),
            C::Expired | C::ExpiredContext { .. } => {
                "the server certificate has expired; renew it on the server".into()
            }
            C::NotValidYet | C::NotValidYetContext { .. } => {
                "the server certificate is not valid yet; check the clocks of this machine and the server".into()
            }
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                "the server certificate is not valid for the host name in the server URL; use the name the \
                 certificate was issued for"
                    .into()
            }
            C::Revoked => "the server certificate has been revoked".into(),
            other => format!("the server certificate was rejected ({other:?}). {trust_hint}"),
        },
        E::InvalidMessage(_) | E::InappropriateMessage { .. } => {
            "the server did not answer with TLS; is it a plain http:// port?".into()
        }
        other => format!("the TLS handshake failed: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_are_cached_per_trust_setting() {
        let a = client_config(None).unwrap();
        let b = client_config(None).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let err = client_config(Some(Path::new("/nonexistent/ca.pem"))).unwrap_err();
        assert_eq!(err.status, Status::InvalidFile);
        let dir = std::env::temp_dir().join(format!("cm-tls-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = client_config(Some(&empty)).unwrap_err();
        assert_eq!(err.status, Status::InvalidFile);
        assert!(
            err.message.contains("no PEM certificate"),
            "{}",
            err.message
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn handshake_failures_name_their_cause() {
        use rustls::{AlertDescription as A, CertificateError as C, Error as E};
        assert!(
            describe_tls_error(&E::AlertReceived(A::ProtocolVersion)).contains("older than 1.2")
        );
        assert!(
            describe_tls_error(&E::InvalidCertificate(C::UnknownIssuer)).contains("not trusted")
        );
        assert!(describe_tls_error(&E::InvalidCertificate(C::Expired)).contains("expired"));
        assert!(
            describe_tls_error(&E::InvalidCertificate(C::NotValidForName)).contains("host name")
        );
        assert!(
            describe_tls_error(&E::InvalidMessage(
                rustls::InvalidMessage::InvalidContentType
            ))
            .contains("plain http")
        );
    }
}
