//! HTTPS on loopback: a throw-away certificate authority and server certificate, and, when a
//! client CA is set, mutual TLS (client certificates required and verified against it).

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio_rustls::TlsAcceptor;

use super::Error;

/// The server's identity and the acceptor built from it, swappable at run time (to turn
/// client-certificate checks on or off).
pub(crate) struct Tls {
    /// The PEM of the generated CA, for clients to trust.
    pub(crate) ca_pem: String,
    chain: Vec<CertificateDer<'static>>,
    key: PrivatePkcs8KeyDer<'static>,
    acceptor: RwLock<TlsAcceptor>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The private key is never shown.
        f.debug_struct("Tls").finish_non_exhaustive()
    }
}

impl Tls {
    /// Generate a CA and a certificate for `localhost`, `127.0.0.1` and `::1` signed by it;
    /// with `client_ca_pem`, require client certificates issued by one of its CAs.
    pub(crate) fn generate(client_ca_pem: Option<&str>) -> Result<Tls, Error> {
        let tls = |e: rcgen::Error| Error::Tls(e.to_string());
        let ca_key = KeyPair::generate().map_err(tls)?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(tls)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "snow-devinstance local CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key).map_err(tls)?;

        let server_key = KeyPair::generate().map_err(tls)?;
        let mut params = CertificateParams::new(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ])
        .map_err(tls)?;
        params
            .distinguished_name
            .push(DnType::CommonName, "snow-devinstance");
        let server_cert = params
            .signed_by(&server_key, &ca_cert, &ca_key)
            .map_err(tls)?;
        let chain = vec![server_cert.der().clone(), ca_cert.der().clone()];
        let key = PrivatePkcs8KeyDer::from(server_key.serialize_der());
        let acceptor = acceptor(&chain, &key, client_ca_pem)?;
        Ok(Tls {
            ca_pem: ca_cert.pem(),
            chain,
            key,
            acceptor: RwLock::new(acceptor),
        })
    }

    /// The acceptor for the next connection.
    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        self.acceptor
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Require client certificates issued by a CA in `client_ca_pem` from the next
    /// connection on, or (with `None`) stop asking for them.
    pub(crate) fn set_client_ca(&self, client_ca_pem: Option<&str>) -> Result<(), Error> {
        let next = acceptor(&self.chain, &self.key, client_ca_pem)?;
        *self
            .acceptor
            .write()
            .unwrap_or_else(PoisonError::into_inner) = next;
        Ok(())
    }
}

/// A TLS acceptor presenting `chain`, offering h2 and HTTP/1.1.
fn acceptor(
    chain: &[CertificateDer<'static>],
    key: &PrivatePkcs8KeyDer<'static>,
    client_ca_pem: Option<&str>,
) -> Result<TlsAcceptor, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?;
    let builder = match client_ca_pem {
        None => builder.with_no_client_auth(),
        Some(pem) => {
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(client_roots(pem)?), provider)
                    .build()
                    .map_err(|e| Error::Tls(format!("client CA: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut server = builder
        .with_single_cert(chain.to_vec(), PrivateKeyDer::Pkcs8(key.clone_key()))
        .map_err(|e| Error::Tls(e.to_string()))?;
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(server)))
}

/// The CA certificates client certificates must chain to.
fn client_roots(pem: &str) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let cert = cert.map_err(|e| Error::Tls(format!("client CA PEM: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| Error::Tls(format!("client CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(Error::Tls(
            "the client CA PEM holds no CERTIFICATE block".to_owned(),
        ));
    }
    Ok(roots)
}
