//! The HTTP server: hyper (HTTP/1.1, keep-alive) in front of the components.
//!
//! For each request: route the path (unknown routes get a 404 without touching any component),
//! give the request an absolute URI (`http://<Host header or listen address><path?query>`) and
//! the `spin-*` headers Spin's HTTP trigger sets, create a fresh `Store` and instance from the
//! component's pre-instance, and call `wasi:http/incoming-handler.handle`. A guest that traps or
//! never sets a response gets a 500; the server goes on. One line per request goes to stdout:
//! `GET /food-safety/health 200 183us` (method, path without query, status, microseconds until
//! the response head is ready). A running guest yields to the other requests at every epoch
//! tick (see [`crate::app::spawn_epoch_ticker`]). `/.well-known/spin/health` answers `OK`, as
//! in Spin.
//!
//! Requests a component sends to `http://<id>.spin.internal/...` (local service chaining, see
//! [`crate::outbound`]) come in through [`handle_chained`] and go the same way, with what Spin
//! gives a chained request: a synthetic match of the whole path against a `/...` route, the
//! client address `0.0.0.0:0`, no `Host` header, and `spin-full-url` on `localhost` (Spin's
//! fallback when a request has no `Host`). From the network, a `Host` header naming a
//! `*.spin.internal` host is dropped as Spin drops it, so no client can pose as a component;
//! a request left without an authority by that is refused (400).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{HOST, HeaderName, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme as UriScheme};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use wasmtime::Store;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::app::{App, ComponentConfig, LoadedComponent};
use crate::outbound::{OutboundHooks, service_chaining_target};
use crate::routes::RouteMatch;
use crate::sqlite::Databases;

/// The body of a request on its way to a component: from the network or from another
/// component's outgoing request.
pub type RequestBody = wasmtime_wasi_http::WasiBody;

/// The client address Spin reports (`spin-client-addr`) for a chained request.
pub const CHAINED_CLIENT_ADDR: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0);

/// The data of one request's `Store`.
pub struct RequestState {
    pub(crate) wasi: WasiCtx,
    pub(crate) http: WasiHttpCtx,
    pub(crate) table: ResourceTable,
    pub(crate) hooks: OutboundHooks,
    pub(crate) component: Arc<ComponentConfig>,
    pub(crate) databases: Arc<Databases>,
}

impl RequestState {
    /// The state of one request's store: the component's configuration and the databases.
    /// Outbound requests to `*.spin.internal` are not chained (there is no application); see
    /// [`RequestState::in_app`].
    pub fn new(component: Arc<ComponentConfig>, databases: Arc<Databases>) -> RequestState {
        RequestState::with_app(component, databases, None)
    }

    /// The state of a request to `component` of a serving application, which its outbound
    /// requests may chain to.
    pub fn in_app(app: &Arc<App>, component: &LoadedComponent) -> RequestState {
        RequestState::with_app(component.config.clone(), app.databases.clone(), Some(app.clone()))
    }

    fn with_app(component: Arc<ComponentConfig>, databases: Arc<Databases>, app: Option<Arc<App>>) -> RequestState {
        let wasi = WasiCtx::builder().envs(&component.environment).inherit_stdout().inherit_stderr().build();
        RequestState {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks: OutboundHooks {
                component: Arc::from(component.id.as_str()),
                allowed: component.allowed_hosts.clone(),
                app,
            },
            component,
            databases,
        }
    }
}

impl WasiView for RequestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for RequestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

/// The lines printed when the server is ready: `Serving http://ADDR`, then the routes the way
/// `spin up` lists them.
pub fn ready_message(app: &App, addr: SocketAddr) -> String {
    let base = format!("http://{addr}");
    let mut msg = format!("Serving {base}\nAvailable Routes:\n");
    for (component, route) in app.router.describe() {
        msg.push_str(&format!("  {component}: {base}{route}\n"));
    }
    msg
}

/// Accepts connections until `shutdown` resolves, then stops accepting and returns.
pub async fn serve(app: Arc<App>, listener: TcpListener, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let listen_addr = listener.local_addr()?;
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, client) = tokio::select! {
            () = &mut shutdown => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: report and keep serving.
                    eprintln!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let app = app.clone();
                async move { Ok::<_, Infallible>(handle(&app, req, client, listen_addr).await) }
            });
            let conn = http1::Builder::new()
                .keep_alive(true)
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = conn.await
                && !e.is_incomplete_message()
            {
                eprintln!("connection from {client}: {e}");
            }
        });
    }
}

fn empty(status: StatusCode) -> Response<HyperOutgoingBody> {
    let mut resp = Response::new(Empty::<Bytes>::new().map_err(|never| match never {}).boxed_unsync());
    *resp.status_mut() = status;
    resp
}

fn text(status: StatusCode, body: &'static str) -> Response<HyperOutgoingBody> {
    let mut resp =
        Response::new(Full::new(Bytes::from_static(body.as_bytes())).map_err(|never| match never {}).boxed_unsync());
    *resp.status_mut() = status;
    resp
}

/// Where a request comes from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Origin {
    /// A client of the listening socket.
    Network { client: SocketAddr, listen_addr: SocketAddr },
    /// Another component of the application (local service chaining).
    Chained,
}

impl Origin {
    fn client_addr(self) -> SocketAddr {
        match self {
            Origin::Network { client, .. } => client,
            Origin::Chained => CHAINED_CLIENT_ADDR,
        }
    }
}

/// Handles one request and logs it.
pub async fn handle(
    app: &Arc<App>,
    req: Request<Incoming>,
    client: SocketAddr,
    listen_addr: SocketAddr,
) -> Response<HyperOutgoingBody> {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let req = req.map(|body| body.map_err(wasmtime_wasi_http::Error::from).boxed_unsync());
    let resp = route(app, req, Origin::Network { client, listen_addr }).await;
    log_request(&method, &path, &resp, start);
    resp
}

/// Handles a request made on this machine as if it came from `client` over the network: the
/// local scheduler's ticks ([`crate::scheduler`], which logs them its own way).
pub async fn handle_local(
    app: &Arc<App>,
    req: Request<RequestBody>,
    client: SocketAddr,
    listen_addr: SocketAddr,
) -> Response<HyperOutgoingBody> {
    route(app, req, Origin::Network { client, listen_addr }).await
}

/// Handles a request that a component of `app` sent to `http://<component_id>.spin.internal`
/// (its allow list already checked), as Spin does: the whole path matched against a synthetic
/// `/...` route, on a fresh instance of that component with its own configuration, logged like
/// any request. `None` when the application has no HTTP component of that id.
pub async fn handle_chained(
    app: &Arc<App>,
    component_id: &str,
    req: Request<RequestBody>,
) -> Option<Response<HyperOutgoingBody>> {
    let start = Instant::now();
    let component = app.components.get(component_id)?;
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let matched = RouteMatch::synthetic(&component.config.id, path.clone());
    let resp = respond(app, component, &matched, req, Origin::Chained).await;
    log_request(&method, &path, &resp, start);
    Some(resp)
}

/// The request line: method, path without query, status, microseconds until the head.
fn log_request(method: &http::Method, path: &str, resp: &Response<HyperOutgoingBody>, start: Instant) {
    println!("{method} {path} {} {}us", resp.status().as_u16(), start.elapsed().as_micros());
}

async fn route(app: &Arc<App>, req: Request<RequestBody>, origin: Origin) -> Response<HyperOutgoingBody> {
    let path = req.uri().path().to_owned();
    if let Some(well_known) = path.strip_prefix("/.well-known/spin/") {
        return match well_known {
            "health" => text(StatusCode::OK, "OK"),
            _ => empty(StatusCode::NOT_FOUND),
        };
    }
    let Some(matched) = app.router.route(&path) else {
        return empty(StatusCode::NOT_FOUND);
    };
    let Some(component) = app.components.get(matched.component) else {
        eprintln!("route {:?} names component {:?}, which is not loaded", matched.raw_route, matched.component);
        return empty(StatusCode::INTERNAL_SERVER_ERROR);
    };
    respond(app, component, &matched, req, origin).await
}

/// Runs the matched component on the request and turns a failure into a 500.
async fn respond(
    app: &Arc<App>,
    component: &LoadedComponent,
    matched: &RouteMatch<'_>,
    req: Request<RequestBody>,
    origin: Origin,
) -> Response<HyperOutgoingBody> {
    let path = req.uri().path().to_owned();
    let req = match prepare_request(req, matched, origin) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bad request from {}: {e}", origin.client_addr());
            return text(StatusCode::BAD_REQUEST, "Bad Request");
        }
    };
    match invoke(app, component, req).await {
        Ok(resp) => resp,
        Err(Failure::Logged) => empty(StatusCode::INTERNAL_SERVER_ERROR),
        Err(Failure::Other(e)) => {
            eprintln!("component {:?} failed on {path}: {e}", component.config.id);
            empty(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// The authority the guest sees: the `Host` header, else the URI's, else (from the network)
/// the listen address. A chained request has its URI's.
fn authority(parts: &http::request::Parts, origin: Origin) -> Result<Authority, String> {
    if let Some(host) = parts.headers.get(HOST) {
        let host = host.to_str().map_err(|_| "the Host header is not valid text".to_owned())?;
        return host.parse().map_err(|_| format!("the Host header {host:?} is not a valid authority"));
    }
    if let Some(a) = parts.uri.authority() {
        return Ok(a.clone());
    }
    match origin {
        Origin::Network { listen_addr, .. } => {
            listen_addr.to_string().parse().map_err(|_| "invalid listen address".to_owned())
        }
        Origin::Chained => Err("a chained request without an authority".to_owned()),
    }
}

/// Sets the absolute URI and the `spin-*` headers, as Spin's HTTP trigger does. Headers of the
/// same names sent by the client are replaced, so the component can trust them. A `Host`
/// header naming a service-chaining host is dropped first (see the module header).
pub(crate) fn prepare_request(
    req: Request<RequestBody>,
    matched: &RouteMatch<'_>,
    origin: Origin,
) -> Result<Request<RequestBody>, String> {
    let (mut parts, body) = req.into_parts();
    if parts.headers.get(HOST).and_then(|h| h.to_str().ok()).and_then(service_chaining_target).is_some() {
        parts.headers.remove(HOST);
        if parts.uri.authority().is_none() {
            return Err("the Host header names a *.spin.internal host, which Spin drops from requests \
                        off the network, and the request has no other authority"
                .to_owned());
        }
    }
    let authority = authority(&parts, origin)?;
    let path_and_query = parts.uri.path_and_query().cloned().unwrap_or_else(|| PathAndQuery::from_static("/"));
    // Spin writes `spin-full-url` with the `Host` header, or `localhost` without one (a
    // chained request); this host falls back to the authority for network requests.
    let full_url = match origin {
        Origin::Chained => format!("http://localhost{path_and_query}"),
        Origin::Network { .. } => format!("http://{authority}{path_and_query}"),
    };
    parts.uri = Uri::builder()
        .scheme(UriScheme::HTTP)
        .authority(authority)
        .path_and_query(path_and_query)
        .build()
        .map_err(|e| format!("cannot build the request URI: {e}"))?;

    let mut set = |name: &str, value: &str| -> Result<(), String> {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| format!("header name {name:?}: {e}"))?;
        let value = HeaderValue::from_str(value).map_err(|e| format!("header {name}: {e}"))?;
        parts.headers.insert(name, value);
        Ok(())
    };
    set("spin-path-info", &matched.path_info)?;
    set("spin-full-url", &full_url)?;
    set("spin-matched-route", matched.based_route)?;
    set("spin-base-path", "/")?;
    set("spin-raw-component-route", matched.raw_route)?;
    set("spin-component-route", matched.component_route())?;
    set("spin-client-addr", &origin.client_addr().to_string())?;
    // Spin names these SPIN_PATH_MATCH_<NAME> and turns `_` into `-` like its other headers.
    for (name, value) in &matched.named {
        let header = format!("spin-path-match-{}", name.to_ascii_lowercase().replace('_', "-"));
        set(&header, value)?;
    }
    Ok(Request::from_parts(parts, body))
}

/// Why a component gave no response.
enum Failure {
    /// It trapped; the trap was already reported.
    Logged,
    Other(String),
}

/// Runs the component on a fresh instance and waits for its response head.
async fn invoke(
    app: &Arc<App>,
    component: &LoadedComponent,
    req: Request<RequestBody>,
) -> Result<Response<HyperOutgoingBody>, Failure> {
    let state = RequestState::in_app(app, component);
    let mut store = Store::new(&app.engine, state);
    store.epoch_deadline_async_yield_and_update(1);
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let request = store
        .data_mut()
        .http()
        .new_incoming_request(Scheme::Http, req)
        .map_err(|e| Failure::Other(format!("{e:#}")))?;
    let outparam =
        store.data_mut().http().new_response_outparam(sender).map_err(|e| Failure::Other(format!("{e:#}")))?;
    let pre = component.pre.clone();
    let id = component.config.id.clone();

    // The guest runs in its own task: it may go on streaming the body after the head is sent,
    // so the task reports a trap itself (before or after the response head).
    let task = tokio::spawn(async move {
        let result = async {
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy.wasi_http_incoming_handler().call_handle(&mut store, request, outparam).await
        }
        .await;
        match result {
            Ok(()) => true,
            Err(e) => {
                eprintln!("component {id:?} trapped: {e:#}");
                false
            }
        }
    });

    match receiver.await {
        Ok(Ok(resp)) => Ok(resp),
        Ok(Err(code)) => Err(Failure::Other(format!("it answered with the error code {code:?}"))),
        Err(_) => match task.await {
            Ok(true) => Err(Failure::Other("it returned without setting a response".to_owned())),
            Ok(false) => Err(Failure::Logged),
            Err(e) => Err(Failure::Other(format!("its task failed: {e}"))),
        },
    }
}
