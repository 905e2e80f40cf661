//! supervisorctl's side of TLS (ours): the connector for `https://`
//! serverurls, trusting the CA certificates of `tls_ca` (default: the
//! system's bundle), TLS 1.2 and 1.3 only; or, with
//! `tls_insecure_skip_verify`, any certificate at all (the config loader
//! warns about it on every start); showing the client certificate of
//! `tls_cert`/`tls_key` to a server that asks for one. It only builds
//! connectors.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio_rustls::TlsConnector;

use crate::config::ctl::ClientTls;

/// Where Debian and Red Hat keep the system's CA bundle.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
];

fn provider() -> Arc<CryptoProvider> {
    // ring, as the daemon's side (see `http::tls`).
    #[allow(deprecated)]
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The connector for `tls`; an error names the file.
pub fn connector(tls: &ClientTls) -> Result<TlsConnector, String> {
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?;
    let builder = if tls.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        let bundle = match &tls.ca {
            Some(path) => path.clone(),
            None => SYSTEM_BUNDLES
                .iter()
                .map(Path::new)
                .find(|path| path.exists())
                .ok_or("no tls_ca given and no system CA bundle found")?
                .to_path_buf(),
        };
        let certs = CertificateDer::pem_file_iter(&bundle)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("tls_ca {}: {e}", bundle.display()))?;
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(format!(
                "tls_ca {}: no CA certificate in it",
                bundle.display()
            ));
        }
        builder.with_root_certificates(roots)
    };
    let config = match &tls.client_cert {
        None => builder.with_no_client_auth(),
        Some((cert_file, key_file)) => {
            let (chain, key) = client_identity(cert_file, key_file)?;
            // rustls refuses a key that does not match the certificate.
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                format!(
                    "tls_cert {} and tls_key {}: {e}",
                    cert_file.display(),
                    key_file.display()
                )
            })?
        }
    };
    Ok(TlsConnector::from(Arc::new(config)))
}

/// The certificate chain of `tls_cert` and the key of `tls_key`; an error
/// names the option and the file.
fn client_identity(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("tls_cert {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("tls_cert {}: no certificate in it", cert.display()));
    }
    let key =
        PrivateKeyDer::from_pem_file(key).map_err(|e| format!("tls_key {}: {e}", key.display()))?;
    Ok((chain, key))
}

/// `tls_insecure_skip_verify`: every certificate is taken (signatures are
/// still checked, so the handshake itself is sound).
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
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
