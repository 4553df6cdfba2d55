//! TLS with rustls and the ring crypto provider, chosen explicitly so that no process-wide
//! default provider is needed (no "no process-level CryptoProvider" panic, whatever other
//! rustls users enabled).

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::addr::ServerAddr;
use crate::error::{Error, ErrorKind};

/// The TLS settings of [`crate::ConnectOptions`].
#[derive(Clone, Default)]
pub(crate) struct TlsOptions {
    /// TLS even when the URL says `nats://` and the server does not require it.
    pub(crate) required: bool,
    /// TLS handshake before the server's INFO (server `handshake_first`).
    pub(crate) first: bool,
    /// PEM files of CAs to trust instead of the system's.
    pub(crate) root_files: Vec<PathBuf>,
    /// PEM files of the client certificate chain and its private key (mutual TLS).
    pub(crate) client_cert: Option<(PathBuf, PathBuf)>,
    /// A complete config given by the user: used as is.
    pub(crate) custom: Option<Arc<ClientConfig>>,
    /// Set only through `dangerous()`: accept any server certificate.
    pub(crate) no_verify: bool,
    /// The config built from the above, the first time a connection needs TLS.
    cache: Arc<Mutex<Option<Arc<ClientConfig>>>>,
}

impl TlsOptions {
    /// Forgets the built config: a setting changed.
    pub(crate) fn changed(&mut self) {
        self.cache = Arc::default();
    }

    /// The client config, built once (system roots loaded only if no CA file and no custom
    /// config was given).
    pub(crate) fn config(&self) -> Result<Arc<ClientConfig>, Error> {
        if let Some(custom) = &self.custom {
            return Ok(custom.clone());
        }
        let mut cache = self.cache.lock();
        if let Some(config) = cache.as_ref() {
            return Ok(config.clone());
        }
        let config = Arc::new(self.build()?);
        *cache = Some(config.clone());
        Ok(config)
    }

    fn build(&self) -> Result<ClientConfig, Error> {
        let provider = provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error("building the TLS configuration failed", e))?;
        let builder = if self.no_verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
        } else {
            builder.with_root_certificates(self.roots()?)
        };
        match &self.client_cert {
            Some((cert_path, key_path)) => {
                let certs = CertificateDer::pem_file_iter(cert_path)
                    .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| {
                        invalid(
                            format!("reading client certificate {} failed", cert_path.display()),
                            e,
                        )
                    })?;
                if certs.is_empty() {
                    return Err(Error::new(
                        ErrorKind::InvalidArgument,
                        format!("no certificate found in {}", cert_path.display()),
                    ));
                }
                let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| {
                    invalid(
                        format!("reading client key {} failed", key_path.display()),
                        e,
                    )
                })?;
                builder
                    .with_client_auth_cert(certs, key)
                    .map_err(|e| invalid("the client certificate or key is not usable", e))
            }
            None => Ok(builder.with_no_client_auth()),
        }
    }

    fn roots(&self) -> Result<RootCertStore, Error> {
        if self.root_files.is_empty() {
            return system_roots().map(|r| (*r).clone());
        }
        let mut roots = RootCertStore::empty();
        for path in &self.root_files {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| invalid(format!("reading CA file {} failed", path.display()), e))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("no usable CA certificate in {}", path.display()),
                ));
            }
        }
        Ok(roots)
    }
}

impl fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsOptions")
            .field("required", &self.required)
            .field("first", &self.first)
            .field("root_files", &self.root_files)
            .field("client_cert", &self.client_cert)
            .field("custom_config", &self.custom.is_some())
            .field("verification_disabled", &self.no_verify)
            .finish()
    }
}

/// The one crypto provider rnats uses.
fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// The system's root certificates, loaded once per process, on first use.
fn system_roots() -> Result<Arc<RootCertStore>, Error> {
    static ROOTS: OnceLock<Result<Arc<RootCertStore>, String>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = RootCertStore::empty();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                let why = found
                    .errors
                    .first()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default();
                Err(format!(
                    "no system root certificates could be loaded{why}; use add_root_certificates"
                ))
            } else {
                Ok(Arc::new(roots))
            }
        })
        .clone()
        .map_err(|why| Error::new(ErrorKind::Tls, why))
}

/// Runs the TLS handshake over `tcp`, verifying the certificate against `addr.tls_name()`.
pub(crate) async fn handshake(
    options: &TlsOptions,
    addr: &ServerAddr,
    tcp: TcpStream,
) -> Result<TlsStream<TcpStream>, Error> {
    let config = options.config()?;
    let name = ServerName::try_from(addr.tls_name().to_owned()).map_err(|e| {
        Error::with_source(
            ErrorKind::InvalidArgument,
            format!("{:?} is not a valid TLS server name", addr.tls_name()),
            e,
        )
    })?;
    TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| {
            Error::with_source(
                ErrorKind::Tls,
                format!(
                    "TLS handshake with {addr} (as {:?}) failed",
                    addr.tls_name()
                ),
                e,
            )
        })
}

fn tls_error(context: &str, e: rustls::Error) -> Error {
    Error::with_source(ErrorKind::Tls, context.to_owned(), e)
}

fn invalid(context: impl Into<String>, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::with_source(ErrorKind::InvalidArgument, context, e)
}

/// Accepts every certificate: only reachable through `ConnectOptions::dangerous()`.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
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
        rustls::crypto::verify_tls12_signature(
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
        rustls::crypto::verify_tls13_signature(
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
