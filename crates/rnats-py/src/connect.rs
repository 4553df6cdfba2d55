//! `connect`: nats-py's connect options onto `rnats::ConnectOptions`.
//!
//! Credentials: strings go to the core as they are; Python callables (token, user/password,
//! `user_jwt_cb`, `signature_cb`) become core callbacks that take the GIL on a blocking
//! thread (through `with_python`) at every connect and reconnect. A raising or ill-typed
//! callable fails that attempt with an auth error naming the callable and the exception
//! type and text; it never panics.
//!
//! TLS: the Python side reads what it can from the `ssl.SSLContext` (CA certificates in DER,
//! whether to verify, whether to check the host name, the client certificate files recorded
//! from `load_cert_chain`) and passes plain values here; they become one
//! `rustls::ClientConfig` (ring provider, like the core) with [`ContextVerifier`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

use crate::{complete_on, duration, forward_event, wake, with_python, Client, Fail};

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Calls a Python callable on a blocking thread with the GIL; `what` names it in errors.
///
/// Unlike nats-py (which calls credential callables on the event loop's thread), the
/// callable runs on a tokio blocking thread: it must not use loop-bound objects.
async fn call_python<T, F>(what: &'static str, f: F) -> Result<T, BoxError>
where
    T: Send + 'static,
    F: FnOnce(Python<'_>) -> PyResult<T> + Send + 'static,
{
    let joined = tokio::task::spawn_blocking(move || {
        with_python(|py| {
            f(py).map_err(|e| {
                let kind = e
                    .get_type(py)
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_else(|_| "exception".to_owned());
                let text = e.value(py).str().map(|s| s.to_string()).unwrap_or_default();
                if text.is_empty() {
                    format!("the {what} callable raised {kind}")
                } else {
                    format!("the {what} callable raised {kind}: {text}")
                }
            })
        })
    })
    .await;
    match joined {
        Ok(Some(Ok(v))) => Ok(v),
        Ok(Some(Err(msg))) => Err(msg.into()),
        Ok(None) => {
            Err(format!("the {what} callable was not called: Python is shutting down").into())
        }
        Err(_) => Err(format!("the {what} callable could not be run").into()),
    }
}

/// `str`, `bytes` or `bytearray` (UTF-8) as a `String`.
fn text_of(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<String> {
    if let Ok(s) = obj.extract::<String>() {
        return Ok(s);
    }
    let raw: Vec<u8> = if let Ok(b) = obj.cast::<PyBytes>() {
        b.as_bytes().to_vec()
    } else if let Ok(b) = obj.cast::<PyByteArray>() {
        b.to_vec()
    } else {
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "{what} must return str or bytes, not {}",
            obj.get_type().name()?
        )));
    };
    String::from_utf8(raw)
        .map_err(|_| PyValueError::new_err(format!("{what} returned non-UTF-8 bytes")))
}

/// A callable returning a `str` (or bytes), asked at every connect.
fn string_callback(
    cb: Arc<Py<PyAny>>,
    what: &'static str,
) -> impl Fn() -> crate::BoxFuture<Result<String, BoxError>> + Send + Sync + 'static {
    move || {
        let cb = Arc::clone(&cb);
        Box::pin(call_python(what, move |py| {
            text_of(&cb.bind(py).call0()?, what)
        }))
    }
}

/// A value given as a `str` or as a zero-argument callable returning one.
enum StrOrCall {
    Str(String),
    Call(Arc<Py<PyAny>>),
}

fn str_or_call(obj: Option<Bound<'_, PyAny>>, what: &str) -> PyResult<Option<StrOrCall>> {
    let Some(obj) = obj else { return Ok(None) };
    if let Ok(s) = obj.extract::<String>() {
        return Ok(Some(StrOrCall::Str(s)));
    }
    if obj.is_callable() {
        return Ok(Some(StrOrCall::Call(Arc::new(obj.unbind()))));
    }
    Err(pyo3::exceptions::PyTypeError::new_err(format!(
        "{what} must be a str or a callable returning one, not {}",
        obj.get_type().name()?
    )))
}

/// nats-py's `signature_cb(nonce: str) -> bytes` returns the base64 of the signature
/// (standard or URL alphabet, padded or not); the core wants the raw signature.
fn decode_signature(text: &str) -> Result<Vec<u8>, String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let t = text.trim();
    for engine in [&URL_SAFE_NO_PAD, &URL_SAFE, &STANDARD, &STANDARD_NO_PAD] {
        if let Ok(raw) = engine.decode(t) {
            return Ok(raw);
        }
    }
    Err("signature_cb must return the base64 of the signature".to_owned())
}

/// A client certificate chain file and its key file (`None`: the key is in the chain file).
type ClientCertFiles = (PathBuf, Option<PathBuf>);

/// `rnats._tls.read_context`'s answer: CA certificates (DER), verify, check_hostname, the
/// client certificate files.
type TlsArgs = (Vec<Vec<u8>>, bool, bool, Option<ClientCertFiles>);

/// The TLS settings read from an `ssl.SSLContext` by the Python side.
pub(crate) struct TlsSpec {
    /// DER CA certificates (`get_ca_certs(binary_form=True)`); empty: the system roots.
    pub ca_der: Vec<Vec<u8>>,
    /// `verify_mode != CERT_NONE`.
    pub verify: bool,
    /// `check_hostname`.
    pub check_hostname: bool,
    /// The client certificate chain file and its key file (`None`: in the chain file).
    pub client_cert: Option<ClientCertFiles>,
    /// The name to verify instead of the URL's host.
    pub hostname: Option<String>,
}

/// Verifies like an `ssl.SSLContext` configured with `verify_mode` / `check_hostname`:
/// the chain against its CAs (unless `CERT_NONE`), the name (unless `check_hostname` is
/// off) against `tls_hostname` if given, else the URL's host.
#[derive(Debug)]
struct ContextVerifier {
    /// `None`: `CERT_NONE`, every certificate is accepted.
    inner: Option<Arc<WebPkiServerVerifier>>,
    check_hostname: bool,
    hostname: Option<ServerName<'static>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for ContextVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(inner) = &self.inner else {
            return Ok(ServerCertVerified::assertion());
        };
        let name = self.hostname.as_ref().unwrap_or(server_name);
        match inner.verify_server_cert(end_entity, intermediates, name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_hostname => Ok(ServerCertVerified::assertion()),
            other => other,
        }
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
            &self.provider.signature_verification_algorithms,
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
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn tls_err(what: impl std::fmt::Display) -> PyErr {
    Python::attach(|py| crate::make_err(py, "SecureConnFailedError", what.to_string()))
}

/// The rustls configuration for `spec`.
fn client_config(spec: TlsSpec) -> PyResult<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let inner = if spec.verify {
        let mut roots = rustls::RootCertStore::empty();
        if spec.ca_der.is_empty() {
            // CAs the context loads lazily (default verify paths, capath) are not listed
            // by get_ca_certs: use the system's, as OpenSSL's default paths would.
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(tls_err(
                    "the ssl.SSLContext has no CA certificates and no system roots were found: \
                     use load_verify_locations()",
                ));
            }
        } else {
            let (added, _) =
                roots.add_parsable_certificates(spec.ca_der.into_iter().map(CertificateDer::from));
            if added == 0 {
                return Err(tls_err(
                    "none of the ssl.SSLContext's CA certificates could be used",
                ));
            }
        }
        Some(
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                .build()
                .map_err(|e| tls_err(format!("TLS verifier: {e}")))?,
        )
    } else {
        None
    };
    let hostname = match spec.hostname {
        Some(h) => Some(ServerName::try_from(h.clone()).map_err(|_| {
            PyValueError::new_err(format!("tls_hostname {h:?} is not a valid TLS server name"))
        })?),
        None => None,
    };
    let verifier = Arc::new(ContextVerifier {
        inner,
        check_hostname: spec.check_hostname,
        hostname,
        provider: Arc::clone(&provider),
    });
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err(format!("TLS configuration: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    match spec.client_cert {
        None => Ok(builder.with_no_client_auth()),
        Some((cert_file, key_file)) => {
            let certs = CertificateDer::pem_file_iter(&cert_file)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| {
                    tls_err(format!(
                        "reading the client certificate {} failed: {e}",
                        cert_file.display()
                    ))
                })?;
            if certs.is_empty() {
                return Err(tls_err(format!(
                    "no certificate in the client certificate file {}",
                    cert_file.display()
                )));
            }
            let key_path = key_file.unwrap_or(cert_file);
            // The key's contents never appear in the error.
            let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|_| {
                tls_err(format!(
                    "no usable private key (PEM: PKCS#8, PKCS#1 or SEC1; unencrypted) in {}",
                    key_path.display()
                ))
            })?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| tls_err(format!("the client certificate cannot be used: {e}")))
        }
    }
}

/// Connects and completes `fut` with a `Client`. `on_event(kind, error)` is scheduled on
/// `hub`'s loop for every connection event (`kind` one of "disconnected", "reconnected",
/// "closed", "error", "lame_duck", "discovered", "slow_consumer"; `error` an exception or
/// `None`).
///
/// `user`, `password`, `token`: a `str` or a zero-argument callable (asked at every
/// connect). `creds_file` / `creds_text` / `creds_pair` (JWT file, seed file), `nkeys_seed`
/// (file) / `nkeys_seed_str`, or `user_jwt_cb` with `signature_cb` (nats-py's shapes) for
/// NKey/JWT authentication. `tls` (CA certificates in DER, verify, check_hostname,
/// client certificate files) when a TLS context applies; `tls_required` for `tls://` URLs
/// and contexts given; `tls_handshake_first`.
#[pyfunction]
#[pyo3(signature = (hub, fut, servers, on_event, *, name=None, no_echo=false,
    connect_timeout=2.0, allow_reconnect=true, max_reconnect_attempts=60,
    reconnect_time_wait=2.0, ping_interval=120.0, max_outstanding_pings=2,
    dont_randomize=false, user=None, password=None, token=None, inbox_prefix=None,
    pending_size=2_097_152, flusher_queue_size=None, pending_msgs_limit=None,
    pending_bytes_limit=None, retry_on_initial_connect=false, creds_file=None,
    creds_text=None, creds_pair=None, nkeys_seed=None, nkeys_seed_str=None,
    user_jwt_cb=None, signature_cb=None, tls=None, tls_hostname=None,
    tls_required=false, tls_handshake_first=false))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn connect(
    hub: &wake::Hub,
    fut: Py<PyAny>,
    servers: Vec<String>,
    on_event: Py<PyAny>,
    name: Option<String>,
    no_echo: bool,
    connect_timeout: f64,
    allow_reconnect: bool,
    max_reconnect_attempts: i64,
    reconnect_time_wait: f64,
    ping_interval: f64,
    max_outstanding_pings: usize,
    dont_randomize: bool,
    user: Option<Bound<'_, PyAny>>,
    password: Option<Bound<'_, PyAny>>,
    token: Option<Bound<'_, PyAny>>,
    inbox_prefix: Option<String>,
    pending_size: usize,
    flusher_queue_size: Option<usize>,
    pending_msgs_limit: Option<usize>,
    pending_bytes_limit: Option<usize>,
    retry_on_initial_connect: bool,
    creds_file: Option<PathBuf>,
    creds_text: Option<String>,
    creds_pair: Option<(PathBuf, PathBuf)>,
    nkeys_seed: Option<PathBuf>,
    nkeys_seed_str: Option<String>,
    user_jwt_cb: Option<Py<PyAny>>,
    signature_cb: Option<Py<PyAny>>,
    tls: Option<TlsArgs>,
    tls_hostname: Option<String>,
    tls_required: bool,
    tls_handshake_first: bool,
) -> PyResult<()> {
    let _ = flusher_queue_size; // accepted for nats-py compatibility; rnats batches writes itself
    if servers.is_empty() {
        return Err(PyValueError::new_err("servers must not be empty"));
    }
    let mut opts = rnats::ConnectOptions::new()
        .no_echo(no_echo)
        .retain_servers_order(dont_randomize)
        .retry_on_initial_connect(retry_on_initial_connect)
        .max_pings_out(max_outstanding_pings.max(1))
        .reconnect_buffer_size(pending_size);
    if let Some(t) = duration(Some(connect_timeout), "connect_timeout")? {
        opts = opts.connection_timeout(t);
    }
    if let Some(t) = duration(Some(ping_interval), "ping_interval")? {
        opts = opts.ping_interval(t);
    }
    if let Some(name) = name {
        opts = opts.name(name);
    }
    if let Some(prefix) = inbox_prefix {
        opts = opts.inbox_prefix(prefix);
    }
    if pending_msgs_limit.is_some() || pending_bytes_limit.is_some() {
        opts = opts.subscription_capacity(
            pending_msgs_limit.unwrap_or(512 * 1024).max(1),
            pending_bytes_limit.unwrap_or(128 * 1024 * 1024).max(1),
        );
    }
    opts = if !allow_reconnect {
        opts.max_reconnects(Some(0))
    } else if max_reconnect_attempts < 0 {
        opts.max_reconnects(None)
    } else {
        opts.max_reconnects(Some(max_reconnect_attempts as usize))
    };
    let wait = duration(Some(reconnect_time_wait), "reconnect_time_wait")?
        .unwrap_or(Duration::from_secs(2));
    // nats-py waits reconnect_time_wait between rounds; the first round starts at once.
    opts =
        opts.reconnect_delay_callback(move |round| if round == 0 { Duration::ZERO } else { wait });

    // User and password, token: strings or callables.
    let user = str_or_call(user, "user")?;
    let password = str_or_call(password, "password")?;
    let token = str_or_call(token, "token")?;
    match (user, password) {
        (Some(StrOrCall::Str(u)), Some(StrOrCall::Str(p))) => opts = opts.user_and_password(u, p),
        (Some(u), Some(p)) => {
            let get = move |v: &StrOrCall, py: Python<'_>, what: &str| -> PyResult<String> {
                match v {
                    StrOrCall::Str(s) => Ok(s.clone()),
                    StrOrCall::Call(cb) => text_of(&cb.bind(py).call0()?, what),
                }
            };
            let pair = Arc::new((u, p));
            opts = opts.user_and_password_callback(move || {
                let pair = Arc::clone(&pair);
                call_python("user/password", move |py| {
                    Ok((get(&pair.0, py, "user")?, get(&pair.1, py, "password")?))
                })
            });
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(PyValueError::new_err(
                "user and password must be given together",
            ))
        }
        (None, None) => {}
    }
    match token {
        Some(StrOrCall::Str(t)) => opts = opts.token(t),
        Some(StrOrCall::Call(cb)) => opts = opts.token_callback(string_callback(cb, "token")),
        None => {}
    }

    // NKey / JWT: credentials first (as nats-py), then a seed, then the callables.
    if let Some(path) = creds_file {
        opts = opts.credentials_file(path);
    } else if let Some(text) = creds_text {
        opts = opts.credentials(text);
    } else if let Some((jwt_file, seed_file)) = creds_pair {
        opts = opts.jwt_callback(
            move || {
                let jwt_file = jwt_file.clone();
                async move {
                    tokio::fs::read_to_string(&jwt_file)
                        .await
                        .map(|s| s.trim().to_owned())
                        .map_err(|e| {
                            format!("reading the JWT file {} failed: {e}", jwt_file.display())
                        })
                }
            },
            move |nonce: Vec<u8>| {
                let seed_file = seed_file.clone();
                async move {
                    let seed = zeroize::Zeroizing::new(
                        tokio::fs::read_to_string(&seed_file).await.map_err(|e| {
                            format!("reading the seed file {} failed: {e}", seed_file.display())
                        })?,
                    );
                    let kp = nkeys::KeyPair::from_seed(seed.trim()).map_err(|_| {
                        format!(
                            "the seed file {} holds no valid NKey seed (not shown)",
                            seed_file.display()
                        )
                    })?;
                    kp.sign(&nonce)
                        .map_err(|_| "signing the nonce failed".to_owned())
                }
            },
        );
    } else if let Some(path) = nkeys_seed {
        opts = opts.nkey_file(path);
    } else if let Some(seed) = nkeys_seed_str {
        opts = opts.nkey(seed); // trimmed by the core when used; moved, not copied
    } else {
        match (user_jwt_cb, signature_cb) {
            (Some(jwt_cb), Some(sig_cb)) => {
                let sig_cb = Arc::new(sig_cb);
                opts = opts.jwt_callback(
                    string_callback(Arc::new(jwt_cb), "user_jwt_cb"),
                    move |nonce: Vec<u8>| {
                        let sig_cb = Arc::clone(&sig_cb);
                        let signed = call_python("signature_cb", move |py| {
                            let nonce = String::from_utf8_lossy(&nonce).into_owned();
                            text_of(&sig_cb.bind(py).call1((nonce,))?, "signature_cb")
                        });
                        async move { decode_signature(&signed.await?).map_err(BoxError::from) }
                    },
                );
            }
            (None, None) => {}
            _ => {
                return Err(PyValueError::new_err(
                    "signature_cb and user_jwt_cb must be given together (for an NKey alone use \
                     nkeys_seed or nkeys_seed_str)",
                ))
            }
        }
    }

    // TLS.
    if let Some((ca_der, verify, check_hostname, client_cert)) = tls {
        let config = client_config(TlsSpec {
            ca_der,
            verify,
            check_hostname,
            client_cert,
            hostname: tls_hostname,
        })?;
        opts = opts.tls_client_config(config);
    }
    if tls_required {
        opts = opts.require_tls(true);
    }
    if tls_handshake_first {
        opts = opts.tls_first(true);
    }

    let sink = Arc::new((Arc::clone(&hub.inner), Arc::new(on_event)));
    opts = opts.event_callback(move |event| {
        let sink = Arc::clone(&sink);
        async move { forward_event(&sink, event) }
    });
    complete_on(
        Arc::clone(&hub.inner),
        fut,
        async move { opts.connect(servers).await.map_err(Fail::from) },
        |py, client| Ok(Py::new(py, Client { client })?.into_any()),
    );
    Ok(())
}
