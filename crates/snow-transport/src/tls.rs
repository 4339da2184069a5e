//! TLS settings: trusted roots, extra CA certificates, client identity, and the dangerous switch.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use snow_core::secret::{ExposeSecret, SecretBox};

use crate::error::BuildError;

/// Which root certificates to trust, before any extra CA added with [`TlsConfig::add_ca_pem`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Roots {
    /// Mozilla's root program, compiled in (the `webpki-roots` crate). The default.
    #[default]
    WebPki,
    /// The operating system's certificate store (the `native-roots` feature).
    #[cfg(feature = "native-roots")]
    Native,
}

/// TLS settings for the transport.
///
/// The crypto provider is always *ring*, passed explicitly (the process-wide default provider is
/// neither used nor needed). Trusted roots are Mozilla's by default; CA certificates in PEM can be
/// added to them ([`add_ca_pem`](Self::add_ca_pem)) or replace them
/// ([`only_ca_pem`](Self::only_ca_pem)). A client certificate and key can be presented for mutual
/// TLS. Certificate verification can only be turned off through
/// [`danger_accept_invalid_certs`](Self::danger_accept_invalid_certs), which logs a warning
/// when the transport is built.
///
/// ```
/// use snow_transport::TlsConfig;
///
/// # let (company_ca_pem, cert_pem, key_pem) = (Vec::<u8>::new(), Vec::<u8>::new(), Vec::<u8>::new());
/// let tls = TlsConfig::default()
///     .add_ca_pem(company_ca_pem)
///     .client_identity_pem(cert_pem, key_pem);
/// assert!(!format!("{tls:?}").contains("PRIVATE KEY"));
/// ```
#[derive(Clone, Default)]
pub struct TlsConfig {
    roots: Roots,
    extra_ca_pems: Vec<Vec<u8>>,
    only_extra: bool,
    identity: Option<Identity>,
    danger_accept_invalid_certs: bool,
}

#[derive(Clone)]
struct Identity {
    cert_pem: Vec<u8>,
    key_pem: Arc<SecretBox<[u8]>>,
}

impl TlsConfig {
    /// Trust `roots` (plus any extra CA).
    #[must_use]
    pub fn roots(mut self, roots: Roots) -> Self {
        self.roots = roots;
        self
    }

    /// Trust the operating system's certificate store instead of Mozilla's roots.
    #[cfg(feature = "native-roots")]
    #[must_use]
    pub fn native_roots(self) -> Self {
        self.roots(Roots::Native)
    }

    /// Also trust the CA certificates in `pem` (one or more `CERTIFICATE` blocks).
    #[must_use]
    pub fn add_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.extra_ca_pems.push(pem.into());
        self
    }

    /// Trust only the CA certificates given with this method or [`add_ca_pem`](Self::add_ca_pem):
    /// the default roots are not loaded.
    #[must_use]
    pub fn only_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.only_extra = true;
        self.add_ca_pem(pem)
    }

    /// Present this client certificate (chain, PEM) and private key (PEM: PKCS#8, PKCS#1 or SEC1)
    /// for mutual TLS. The key is held as a secret and never printed.
    #[must_use]
    pub fn client_identity_pem(
        mut self,
        cert_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        let key: Vec<u8> = key_pem.into();
        self.identity = Some(Identity {
            cert_pem: cert_pem.into(),
            key_pem: Arc::new(SecretBox::from(key)),
        });
        self
    }

    /// **Dangerous**: accept any server certificate, whoever issued it and whatever name it holds.
    ///
    /// Anyone on the network path can then read and change the traffic, credentials included.
    /// Handshake signatures are still checked. Meant for throwaway test instances only; building
    /// a transport with it logs a warning.
    #[must_use]
    pub fn danger_accept_invalid_certs(mut self) -> Self {
        self.danger_accept_invalid_certs = true;
        self
    }

    /// Whether [`danger_accept_invalid_certs`](Self::danger_accept_invalid_certs) is set.
    pub fn accepts_invalid_certs(&self) -> bool {
        self.danger_accept_invalid_certs
    }

    /// Build the rustls client configuration (ALPN is left empty: the connector sets it).
    pub(crate) fn client_config(&self) -> Result<ClientConfig, BuildError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| BuildError::Tls {
                message: e.to_string(),
            })?;
        let builder = if self.danger_accept_invalid_certs {
            tracing::warn!(
                "TLS certificate verification is disabled (danger_accept_invalid_certs): \
                 anyone on the network path can read and change this traffic"
            );
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert {
                    algorithms: provider.signature_verification_algorithms,
                }))
        } else {
            builder.with_root_certificates(self.root_store()?)
        };
        match &self.identity {
            None => Ok(builder.with_no_client_auth()),
            Some(id) => {
                let certs = parse_certs(&id.cert_pem, "client certificate")?;
                let key = PrivateKeyDer::from_pem_slice(id.key_pem.expose_secret()).map_err(|_| {
                    BuildError::Tls {
                        message: "the client private key is not a PEM private key (PKCS#8, PKCS#1 or SEC1)".into(),
                    }
                })?;
                builder
                    .with_client_auth_cert(certs, key)
                    .map_err(|e| BuildError::Tls {
                        message: format!("the client certificate and key cannot be used: {e}"),
                    })
            }
        }
    }

    fn root_store(&self) -> Result<RootCertStore, BuildError> {
        let mut store = RootCertStore::empty();
        if !self.only_extra {
            match self.roots {
                Roots::WebPki => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
                #[cfg(feature = "native-roots")]
                Roots::Native => {
                    let found = rustls_native_certs::load_native_certs();
                    for e in &found.errors {
                        tracing::warn!(error = %e, "could not load some native root certificates");
                    }
                    let (added, _ignored) = store.add_parsable_certificates(found.certs);
                    if added == 0 {
                        return Err(BuildError::Tls {
                            message: "no usable root certificate found in the system store".into(),
                        });
                    }
                }
            }
        }
        for (i, pem) in self.extra_ca_pems.iter().enumerate() {
            for cert in parse_certs(pem, "CA certificate")? {
                store.add(cert).map_err(|e| BuildError::Tls {
                    message: format!("CA certificate #{} cannot be used as a root: {e}", i + 1),
                })?;
            }
        }
        if store.is_empty() {
            return Err(BuildError::Tls {
                message: "no root certificate to trust".into(),
            });
        }
        Ok(store)
    }
}

fn parse_certs(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, BuildError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| BuildError::Tls {
            message: format!("the {what} PEM cannot be read: {e}"),
        })?;
    if certs.is_empty() {
        return Err(BuildError::Tls {
            message: format!("the {what} PEM holds no CERTIFICATE block"),
        });
    }
    Ok(certs)
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("roots", &self.roots)
            .field("extra_ca_certificates", &self.extra_ca_pems.len())
            .field("only_extra_ca", &self.only_extra)
            .field("client_identity", &self.identity.is_some())
            .field(
                "danger_accept_invalid_certs",
                &self.danger_accept_invalid_certs,
            )
            .finish()
    }
}

/// Accepts any certificate, but still checks handshake signatures with the provider's algorithms.
#[derive(Debug)]
struct AcceptAnyServerCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyServerCert {
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
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
