//! Services glue: `rnats.micro` (nats-py's `nats.micro` API) on `rnats::service`.
//!
//! The service (discovery subjects, PING/INFO/STATS answers, counters, queue groups, name
//! rules, drain on stop) is rnats'. Handlers are Python coroutines, so each endpoint is the
//! Stream-of-requests form (`EndpointBuilder::add`): a tokio task reads it into a bounded
//! buffer, the first request of a batch queues one `wake()` job in the loop's hub, and Python
//! takes the batch (`take()`) and runs the handler. A `SvcRequest` answers through rnats'
//! `Request` (`respond`, `respond_error`: the counters and processing time are rnats'), sent at
//! once on the loop thread (`poll_now`); only a full write buffer hands the send to a task.
//! The config's `stats_handler` is rnats' stats handler, calling Python with the GIL.

use std::collections::BTreeMap;
use std::sync::Arc;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use rnats::service::{Endpoint, Request, Service};

use crate::pump::Pump;
use crate::wake::{self, HubInner};
use crate::{
    complete_on, fail_to_py, header_map, payload_bytes, poll_now, runtime, BoxFuture, Client, Fail,
};

/// Most requests buffered for Python per endpoint before the reader waits.
const REQUEST_BUFFER: usize = 4096;

fn json_text<T: serde::Serialize>(value: &T) -> PyResult<String> {
    serde_json::to_string(value).map_err(|e| PyValueError::new_err(format!("bad answer: {e}")))
}

/// The `data` of an endpoint's statistics: `hook` (Python: the config's `stats_handler`
/// wrapped to take and give JSON text) called with the GIL from the discovery task (through
/// `with_python`) or from `stats()` on the loop thread; `null` when it fails or gives no JSON.
fn stats_data(hook: &Py<PyAny>, stats: &rnats::service::EndpointStats) -> serde_json::Value {
    let Ok(text) = serde_json::to_string(stats) else {
        return serde_json::Value::Null;
    };
    // `with_python`: not while the interpreter shuts down (the discovery task is a tokio one).
    let answer: Option<String> = crate::with_python(|py| {
        hook.call1(py, (text,))
            .and_then(|r| r.extract::<Option<String>>(py))
            .ok()
            .flatten()
    })
    .flatten();
    answer
        .and_then(|a| serde_json::from_str(&a).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// Starts a service on `client`; completes `fut` with its `SvcService`.
#[pyfunction]
#[pyo3(signature = (client, hub, fut, name, version, description=None, metadata=None,
    queue_group=None, stats_hook=None))]
#[allow(clippy::too_many_arguments)]
fn svc_start(
    client: PyRef<'_, Client>,
    hub: &wake::Hub,
    fut: Py<PyAny>,
    name: String,
    version: String,
    description: Option<String>,
    metadata: Option<BTreeMap<String, String>>,
    queue_group: Option<String>,
    stats_hook: Option<Py<PyAny>>,
) {
    let mut builder = client.client.service_builder();
    if let Some(hook) = stats_hook {
        builder = builder.stats_handler(move |stats| stats_data(&hook, stats));
    }
    if let Some(d) = description {
        builder = builder.description(d);
    }
    if let Some(m) = metadata {
        builder = builder.metadata(m);
    }
    if let Some(q) = queue_group {
        builder = builder.queue_group(q);
    }
    complete_on(
        Arc::clone(&hub.inner),
        fut,
        async move { Ok(builder.start(name, version).await?) },
        |py, service| pyo3::IntoPyObjectExt::into_py_any(SvcService { service }, py),
    );
}

/// A running service (`rnats.micro.Service` wraps it).
#[pyclass(frozen, module = "rnats._rnats")]
struct SvcService {
    service: Service,
}

#[pymethods]
impl SvcService {
    /// The instance's id.
    fn id(&self) -> String {
        self.service.id().to_owned()
    }

    /// The INFO answer as JSON.
    fn info(&self) -> PyResult<String> {
        json_text(&self.service.info())
    }

    /// The STATS answer as JSON.
    fn stats(&self) -> PyResult<String> {
        json_text(&self.service.stats())
    }

    /// Resets every endpoint's counters.
    fn reset(&self) {
        self.service.reset();
    }

    /// Whether `stop` was called.
    fn is_stopped(&self) -> bool {
        self.service.is_stopped()
    }

    /// Adds an endpoint (`subject` is the whole subject: Python joins the group prefixes as
    /// nats-py does); completes `fut` with its `SvcEndpoint`, whose request batches are
    /// announced by `wake()` jobs.
    #[pyo3(signature = (hub, fut, wake, name, subject=None, queue_group=None, metadata=None))]
    #[allow(clippy::too_many_arguments)]
    fn add_endpoint(
        &self,
        hub: &wake::Hub,
        fut: Py<PyAny>,
        wake: Py<PyAny>,
        name: String,
        subject: Option<String>,
        queue_group: Option<String>,
        metadata: Option<BTreeMap<String, String>>,
    ) {
        let mut builder = self.service.endpoint(name);
        if let Some(s) = subject {
            builder = builder.subject(s);
        }
        if let Some(q) = queue_group {
            builder = builder.queue_group(q);
        }
        if let Some(m) = metadata {
            builder = builder.metadata(m);
        }
        let inner = Arc::clone(&hub.inner);
        complete_on(
            Arc::clone(&hub.inner),
            fut,
            async move {
                let endpoint = builder.add().await?;
                Ok(SvcEndpoint::start(endpoint, inner, wake))
            },
            |py, ep| pyo3::IntoPyObjectExt::into_py_any(ep, py),
        );
    }

    /// Stops the service: its subscriptions are drained; completes `fut` with `None`.
    fn stop(&self, hub: &wake::Hub, fut: Py<PyAny>) {
        let service = self.service.clone();
        complete_on(
            Arc::clone(&hub.inner),
            fut,
            async move { Ok(service.stop().await?) },
            |py, ()| Ok(py.None()),
        );
    }
}

/// An endpoint's requests, read on a tokio task into a bounded buffer for Python.
#[pyclass(frozen, module = "rnats._rnats")]
struct SvcEndpoint {
    pump: Pump<Request>,
}

impl SvcEndpoint {
    fn start(endpoint: Endpoint, hub: Arc<HubInner>, wake: Py<PyAny>) -> Self {
        Self {
            pump: Pump::start(endpoint, REQUEST_BUFFER, hub, wake, Some),
        }
    }
}

#[pymethods]
impl SvcEndpoint {
    /// Takes every buffered request: `(list of SvcRequest, ended)`.
    fn take<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyList>, bool)> {
        let (items, ended) = self.pump.take();
        let list = PyList::empty(py);
        for request in items {
            list.append(SvcRequest {
                request: Arc::new(request),
            })?;
        }
        Ok((list, ended))
    }
}

/// One request to an endpoint (`rnats.micro.Request` wraps it).
#[pyclass(frozen, module = "rnats._rnats")]
struct SvcRequest {
    request: Arc<Request>,
}

impl SvcRequest {
    /// Fails with nats-py's `ValueError` when the request has no reply subject.
    fn check_reply(&self) -> PyResult<()> {
        if self.request.message.reply.is_some() {
            Ok(())
        } else {
            Err(PyValueError::new_err("no reply subject set"))
        }
    }
}

/// Sends now on the loop thread when the write buffer has room; else on a task.
fn send(py: Python<'_>, fut: BoxFuture<Result<(), rnats::Error>>) -> PyResult<()> {
    match poll_now(fut) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(fail_to_py(py, Fail::Rnats(e))),
        Err(rest) => {
            runtime().spawn(rest);
            Ok(())
        }
    }
}

#[pymethods]
impl SvcRequest {
    /// The subject the request came on.
    fn subject(&self) -> String {
        self.request.subject().to_owned()
    }

    /// The payload.
    fn data<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.request.payload())
    }

    /// The headers as a dict (`None` without headers).
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(h) = self.request.headers() else {
            return Ok(None);
        };
        let d = PyDict::new(py);
        for (k, v) in h.iter() {
            d.set_item(k.to_string(), v.to_string())?;
        }
        Ok(Some(d))
    }

    /// Answers with `data` (and `headers`); `ValueError` without a reply subject.
    #[pyo3(signature = (data, headers=None))]
    fn respond(
        &self,
        data: &Bound<'_, PyAny>,
        headers: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        self.check_reply()?;
        let payload = payload_bytes(data)?;
        let headers = header_map(headers)?;
        let request = Arc::clone(&self.request);
        let fut: BoxFuture<Result<(), rnats::Error>> = match headers {
            Some(h) => Box::pin(async move { request.respond_with_headers(h, payload).await }),
            None => Box::pin(async move { request.respond(payload).await }),
        };
        send(data.py(), fut)
    }

    /// Answers with an error (`Nats-Service-Error` / `-Code` headers; counted by the
    /// endpoint's statistics as its last error).
    #[pyo3(signature = (code, description, data, headers=None))]
    fn respond_error(
        &self,
        code: u16,
        description: String,
        data: &Bound<'_, PyAny>,
        headers: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        self.check_reply()?;
        let payload = payload_bytes(data)?;
        let request = Arc::clone(&self.request);
        let fut: BoxFuture<Result<(), rnats::Error>> = match header_map(headers)? {
            Some(mut h) => {
                h.insert(
                    rnats::service::ERROR_HEADER,
                    description.replace(['\r', '\n'], " "),
                );
                h.insert(rnats::service::ERROR_CODE_HEADER, code.to_string());
                Box::pin(async move {
                    // rnats records the error in the endpoint's statistics only through
                    // `respond_error`; extra headers go through `respond_with_headers`.
                    request.respond_with_headers(h, payload).await
                })
            }
            None => {
                Box::pin(async move { request.respond_error(code, &description, payload).await })
            }
        };
        send(data.py(), fut)
    }
}

/// Registers the service functions and classes on `_rnats`.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(svc_start, m)?)?;
    m.add_class::<SvcService>()?;
    m.add_class::<SvcEndpoint>()?;
    m.add_class::<SvcRequest>()?;
    Ok(())
}
