//! TLS for `[inet_http_server]`: the certificate chain and key from PEM
//! files (`tls_cert`, `tls_key`), optionally client certificates required
//! and verified against `tls_client_ca`, with rustls's safe defaults and
//! TLS 1.2 and 1.3 only. The files are read when the server is prepared,
//! so a reload (SIGHUP) reads them again. A client that speaks plain HTTP
//! to a TLS port gets a plain answer saying so ([`PLAIN_HTTP_ANSWER`]). It
//! owns the TLS setup only; serving is `serve`'s.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio_rustls::TlsAcceptor;

/// The TLS files of a server section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// `tls_cert`: the server's certificate, then its chain, in PEM.
    pub cert: PathBuf,
    /// `tls_key`: its private key in PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// `tls_client_ca`: when set, clients must present a certificate
    /// signed by one of these CA certificates.
    pub client_ca: Option<PathBuf>,
}

/// Why TLS could not be set up; names the file and the option.
#[derive(Debug, thiserror::Error)]
#[error("Cannot set up TLS for [{section}]: {what}")]
pub struct TlsError {
    section: String,
    what: String,
}

/// What a plain-HTTP client gets on a TLS port: a complete HTTP response,
/// so browsers and scripts show the reason instead of a reset.
pub const PLAIN_HTTP_ANSWER: &[u8] = b"HTTP/1.1 400 Bad Request\r\n\
Content-Type: text/plain\r\nConnection: close\r\nContent-Length: 53\r\n\r\n\
This server speaks HTTPS only: use an https:// URL.\r\n";

/// The first byte of a TLS handshake record; anything else is not TLS.
pub const HANDSHAKE_RECORD: u8 = 0x16;

/// Read the files and build the acceptor for server `section`.
pub fn acceptor(section: &str, files: &TlsFiles) -> Result<TlsAcceptor, TlsError> {
    let error = |what: String| TlsError {
        section: section.to_owned(),
        what,
    };
    let certs = read_certs(&files.cert, "tls_cert").map_err(error)?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| {
        error(format!(
            "tls_key {}: no usable private key ({e})",
            files.key.display()
        ))
    })?;
    // ring rather than aws-lc-rs: it builds with the C compiler alone (no
    // cmake). rustls deprecates it for lacking post-quantum key exchange;
    // the classical suites it offers are rustls's safe defaults.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| error(e.to_string()))?;
    let builder = match &files.client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in read_certs(path, "tls_client_ca").map_err(error)? {
                roots
                    .add(cert)
                    .map_err(|e| error(format!("tls_client_ca {}: {e}", path.display())))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| error(format!("tls_client_ca {}: {e}", path.display())))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| {
        error(format!(
            "tls_cert {} and tls_key {} do not make a usable pair: {e}",
            files.cert.display(),
            files.key.display()
        ))
    })?;
    // HTTP/1.1 only, as the plain server.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn read_certs(path: &Path, option: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{option} {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{option} {}: no certificate in it", path.display()));
    }
    Ok(certs)
}
