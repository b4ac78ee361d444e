//! `accord serve`: the ledger over HTTP, as C2SP tlog-tiles (docs/FORMAT.md section 13) and a
//! small JSON read API, from the ledger's own database while other processes append to it.
//!
//! The server is a thin layer: each handler parses the request, asks the ledger (through the
//! store's read transactions, the tiles module and the report views) and writes the response.
//! Every limit a client could push is set here, at the edge, in [`Limits`]: connections,
//! header size and time, request time, path length; bodies are refused (reads only).
//!
//! Tiles are computed from the stored hashes and entries of the current tree: every tile of
//! every size up to the current one can be served (entries and hashes never change), so a
//! client never meets a checkpoint whose tiles are missing. Full tiles are immutable and kept in
//! a bounded cache.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

use crate::checkpoint::VerifierKey;
use crate::ledger::{Ledger, LedgerError};
use crate::publish::{FileKind, CATALOGUE_PATH, LOG_INFO_PATH};
use crate::store::ReadTables;
use crate::tiles::{self, Tile, TileKind};

/// What a client may ask of the server, at most.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections served at once; more wait in the listen queue.
    pub connections: usize,
    /// Connections one client address may hold at once; more are closed at once (0: no
    /// limit, for a server behind a reverse proxy, where every client has the proxy's address).
    pub per_client: usize,
    /// Time a response may wait for a client that does not read it (a write that makes no
    /// progress for this long drops the connection).
    pub write_stall: Duration,
    /// Time to send a request's headers (slow clients are dropped after it).
    pub header_time: Duration,
    /// Time to answer one request.
    pub request_time: Duration,
    /// Time a connection may stay open in all.
    pub connection_time: Duration,
    /// Bytes of a request's headers.
    pub header_bytes: usize,
    /// Bytes of full tiles kept in memory.
    pub cache_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connections: 256,
            per_client: 32,
            write_stall: Duration::from_secs(10),
            header_time: Duration::from_secs(10),
            request_time: Duration::from_secs(30),
            connection_time: Duration::from_secs(300),
            header_bytes: 16 * 1024,
            cache_bytes: 64 << 20,
        }
    }
}

/// Server errors (starting it; serving errors are answered to the client).
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address could not be listened on.
    #[error("cannot listen on {addr}: {problem}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        problem: String,
    },
    /// The ledger could not be opened.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The runtime failed.
    #[error("server: {0}")]
    Runtime(String),
}

/// Full tiles, by path, within a byte budget; the oldest go first.
#[derive(Default)]
struct TileCache {
    map: HashMap<String, Arc<Vec<u8>>>,
    order: VecDeque<String>,
    bytes: usize,
}

impl TileCache {
    fn get(&self, path: &str) -> Option<Arc<Vec<u8>>> {
        self.map.get(path).cloned()
    }
    fn put(&mut self, path: String, bytes: Arc<Vec<u8>>, budget: usize) {
        if bytes.len() > budget || self.map.contains_key(&path) {
            return;
        }
        self.bytes += bytes.len();
        self.order.push_back(path.clone());
        self.map.insert(path, bytes);
        while self.bytes > budget {
            let Some(old) = self.order.pop_front() else { break };
            if let Some(b) = self.map.remove(&old) {
                self.bytes -= b.len();
            }
        }
    }
}

struct AppState {
    ledger: Ledger,
    vkey: VerifierKey,
    limits: Limits,
    cache: Mutex<TileCache>,
}

type Shared = Arc<AppState>;

/// An error answered to a client: a status and a one-line explanation.
struct Answer(StatusCode, String);

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut r = (self.0, format!("{}\n", self.1)).into_response();
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }
}

impl From<LedgerError> for Answer {
    fn from(e: LedgerError) -> Self {
        Answer(StatusCode::INTERNAL_SERVER_ERROR, format!("ledger: {e}"))
    }
}

fn not_found() -> Answer {
    Answer(StatusCode::NOT_FOUND, "not found".into())
}

/// A response with the content type and caching of `kind`, an ETag, and 304 for a matching
/// `If-None-Match`.
fn file_response(headers: &HeaderMap, kind: FileKind, body: Arc<Vec<u8>>) -> Response {
    respond(headers, kind.content_type(), kind.cache_control(), body)
}

/// A response with a weak ETag (a hash of the body: weak, because the same body is also sent
/// gzip-encoded, RFC 9110 §8.8.1) and 304 for an `If-None-Match` that matches it (weak
/// comparison, §13.1.2) or is `*`.
fn respond(
    headers: &HeaderMap,
    content_type: &'static str,
    cache: &'static str,
    body: Arc<Vec<u8>>,
) -> Response {
    let tag = hex::encode(&Sha256::digest(body.as_slice())[..16]);
    let etag = format!("W/\"{tag}\"");
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == format!("\"{tag}\""));
    let mut r = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Response::new(Body::from(body.as_ref().clone()))
    };
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    r
}

/// JSON of the read API: not cached (it changes with every append), with an ETag.
fn json_response<T: serde::Serialize>(headers: &HeaderMap, v: &T) -> Result<Response, Answer> {
    let mut body =
        serde_json::to_vec_pretty(v).map_err(|e| Answer(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    body.push(b'\n');
    Ok(respond(headers, "application/json", "no-cache", Arc::new(body)))
}

fn read<T>(s: &Shared, f: impl FnOnce(&ReadTables) -> Result<T, LedgerError>) -> Result<T, Answer> {
    s.ledger.store().read(f).map_err(Answer::from)
}

async fn checkpoint(State(s): State<Shared>, headers: HeaderMap) -> Result<Response, Answer> {
    let (_, note) = s.ledger.latest_checkpoint()?;
    Ok(file_response(&headers, FileKind::Checkpoint, Arc::new(note)))
}

async fn tile(
    State(s): State<Shared>,
    UrlPath(rest): UrlPath<String>,
    headers: HeaderMap,
) -> Result<Response, Answer> {
    let path = format!("tile/{rest}");
    // A path that is not a tile path as C2SP spells it (leading zeros, a missing `x`, a width
    // of 0 or 256) names nothing: 400. A tile path beyond the tree is 404.
    let tile = Tile::parse(&path).map_err(|e| Answer(StatusCode::BAD_REQUEST, e.to_string()))?;
    if let Some(b) = s.cache.lock().map_err(|_| not_found())?.get(&path) {
        return Ok(file_response(&headers, FileKind::Tile, b));
    }
    let bytes = read(&s, |r| {
        let size = r.entry_count()?;
        if !tile.within(size) {
            return Ok(None);
        }
        Ok(Some(match tile.kind {
            TileKind::Hashes(_) => tiles::hash_tile_bytes(&tile, r)
                .map_err(|e| LedgerError::from(crate::store::StoreError::Damaged(e.to_string())))?,
            TileKind::Entries => {
                let range = tile.leaves();
                let mut entries = Vec::with_capacity(usize::from(tile.width));
                r.for_each_entry(range.start, |i, b| -> Result<bool, LedgerError> {
                    if i >= range.end {
                        return Ok(false);
                    }
                    entries.push(b.to_vec());
                    Ok(true)
                })?;
                tiles::encode_bundle(entries.iter().map(Vec::as_slice))
                    .map_err(|e| LedgerError::from(crate::store::StoreError::Damaged(e.to_string())))?
            }
        }))
    })?
    .ok_or_else(not_found)?;
    let bytes = Arc::new(bytes);
    if tile.is_full() {
        if let Ok(mut c) = s.cache.lock() {
            c.put(path, Arc::clone(&bytes), s.limits.cache_bytes);
        }
    }
    Ok(file_response(&headers, FileKind::Tile, bytes))
}

async fn log_info(State(s): State<Shared>, headers: HeaderMap) -> Response {
    file_response(
        &headers,
        FileKind::Json,
        Arc::new(crate::publish::log_info(&s.vkey)),
    )
}

async fn catalogue(headers: HeaderMap) -> Response {
    file_response(
        &headers,
        FileKind::Json,
        Arc::new(crate::norms::CATALOGUE_V1_JSON.as_bytes().to_vec()),
    )
}

async fn api_status(State(s): State<Shared>, headers: HeaderMap) -> Result<Response, Answer> {
    let now = crate::clock::now();
    let mut rows = read(&s, |r| crate::report::attestation_status(r, now))?;
    rows.retain(|a| a.state == "live");
    json_response(&headers, &rows)
}

async fn api_orgs(State(s): State<Shared>, headers: HeaderMap) -> Result<Response, Answer> {
    let now = crate::clock::now();
    json_response(&headers, &read(&s, |r| crate::report::organisations(r, now))?)
}

/// An entry index as the API spells it: decimal, without leading zeros (one spelling per
/// entry, as for tiles).
fn index_of(n: &str) -> Result<u64, Answer> {
    let ok = !n.is_empty()
        && n.len() <= 20
        && n.bytes().all(|b| b.is_ascii_digit())
        && (n == "0" || !n.starts_with('0'));
    ok.then(|| n.parse().ok()).flatten().ok_or_else(|| {
        Answer(
            StatusCode::BAD_REQUEST,
            "an entry index is a decimal number without leading zeros".into(),
        )
    })
}

/// Whether a request path is one this server could have written: only the characters of its
/// own paths, no empty, `.` or `..` segment, no percent-encoding (which the routes would decode
/// into another spelling of a resource, or into a `/`). Every resource then has one URL.
fn canonical_path(path: &str) -> bool {
    path.len() <= 256
        && path.starts_with('/')
        && path[1..].split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        })
}

/// Refuses a request for a path that is not canonical ([`canonical_path`]) before any route
/// sees it.
async fn only_canonical(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    // HTTP/1.1 requires a Host header (RFC 9112 §3.2); a request without one is malformed.
    if req.version() == axum::http::Version::HTTP_11 && !req.headers().contains_key(header::HOST) {
        return Answer(
            StatusCode::BAD_REQUEST,
            "an HTTP/1.1 request needs a Host header".into(),
        )
        .into_response();
    }
    if canonical_path(req.uri().path()) {
        next.run(req).await
    } else {
        Answer(
            StatusCode::BAD_REQUEST,
            "not a path of this server (paths are plain: no '..', '//' or percent-encoding)".into(),
        )
        .into_response()
    }
}

async fn api_entry(
    State(s): State<Shared>,
    UrlPath(n): UrlPath<String>,
    headers: HeaderMap,
) -> Result<Response, Answer> {
    let index = index_of(&n)?;
    let v = read(&s, |r| match r.entry(index)? {
        Some(b) => crate::report::entry_view(r, index, &b).map(Some),
        None => Ok(None),
    })?
    .ok_or_else(not_found)?;
    json_response(&headers, &v)
}

async fn api_proof(
    State(s): State<Shared>,
    UrlPath(n): UrlPath<String>,
    headers: HeaderMap,
) -> Result<Response, Answer> {
    let index = index_of(&n)?;
    if index >= s.ledger.size()? {
        return Err(not_found());
    }
    let b = s.ledger.prove(index, None, None)?;
    let text = crate::proofs::ProofFile::Bundle(b)
        .to_json()
        .map_err(|e| Answer(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(respond(
        &headers,
        "application/json",
        "no-cache",
        Arc::new(text.into_bytes()),
    ))
}

async fn fallback(method: Method) -> Answer {
    if method == Method::GET || method == Method::HEAD {
        not_found()
    } else {
        Answer(
            StatusCode::METHOD_NOT_ALLOWED,
            "this server only reads (GET, HEAD)".into(),
        )
    }
}

/// The routes.
fn router(state: Shared) -> Router {
    use tower_http::compression::predicate::{NotForContentType, Predicate as _, SizeAbove};
    // Hash tiles are random bytes: compressing them only costs time. Entry bundles and JSON
    // compress well (C2SP: entry bundles SHOULD be compressed at the HTTP layer).
    let compress = tower_http::compression::CompressionLayer::new()
        .gzip(true)
        .compress_when(SizeAbove::new(256).and(NotForContentType::const_new("application/octet-stream")));
    let compress_bundles = tower_http::compression::CompressionLayer::new().gzip(true);
    let cors = tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([Method::GET, Method::HEAD])
        .expose_headers([header::ETAG]);
    let timeout = tower_http::timeout::TimeoutLayer::with_status_code(
        StatusCode::SERVICE_UNAVAILABLE,
        state.limits.request_time,
    );
    let bundles = Router::new()
        .route("/tile/entries/{*rest}", get(bundle))
        .layer(compress_bundles);
    Router::new()
        .route("/checkpoint", get(checkpoint))
        .route("/tile/{*rest}", get(tile))
        .route(&format!("/{LOG_INFO_PATH}"), get(log_info))
        .route(&format!("/{CATALOGUE_PATH}"), get(catalogue))
        .route("/api/v1/status", get(api_status))
        .route("/api/v1/orgs", get(api_orgs))
        .route("/api/v1/entries/{n}", get(api_entry))
        .route("/api/v1/proof/{n}", get(api_proof))
        .merge(bundles)
        .fallback(fallback)
        .layer(axum::middleware::from_fn(only_canonical))
        .layer(compress)
        .layer(cors)
        .layer(timeout)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(0))
        .with_state(state)
}

async fn bundle(
    s: State<Shared>,
    UrlPath(rest): UrlPath<String>,
    headers: HeaderMap,
) -> Result<Response, Answer> {
    tile(s, UrlPath(format!("entries/{rest}")), headers).await
}

/// A running server: where it listens, and how to stop it.
pub struct Server {
    /// The address it listens on.
    pub addr: SocketAddr,
    stop: tokio::sync::watch::Sender<bool>,
    task: std::thread::JoinHandle<Result<(), ServeError>>,
}

impl Server {
    /// Stops accepting, lets requests in flight finish (a few seconds at most), and returns.
    ///
    /// # Errors
    /// What the server loop returned.
    pub fn stop(self) -> Result<(), ServeError> {
        let _ = self.stop.send(true);
        self.task
            .join()
            .map_err(|_| ServeError::Runtime("the server thread panicked".into()))?
    }

    /// Waits until the server stops (on SIGTERM or SIGINT, when started with signals).
    ///
    /// # Errors
    /// What the server loop returned.
    pub fn wait(self) -> Result<(), ServeError> {
        self.task
            .join()
            .map_err(|_| ServeError::Runtime("the server thread panicked".into()))?
    }
}

/// Starts serving the ledger at `dir` on `addr`, on a thread of its own; with `signals`, it
/// stops gracefully on SIGTERM or SIGINT.
///
/// # Errors
/// [`ServeError`] when the ledger cannot be opened or the address not listened on.
pub fn start(dir: &Path, addr: &str, limits: Limits, signals: bool) -> Result<Server, ServeError> {
    let ledger = Ledger::open_read_only(dir)?;
    let vkey = VerifierKey::parse(&ledger.recorded_vkey()?).map_err(LedgerError::from)?;
    let listener = std::net::TcpListener::bind(addr).map_err(|e| ServeError::Listen {
        addr: addr.to_string(),
        problem: e.to_string(),
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|e| ServeError::Runtime(e.to_string()))?;
    let local = listener
        .local_addr()
        .map_err(|e| ServeError::Runtime(e.to_string()))?;
    let state = Arc::new(AppState {
        ledger,
        vkey,
        limits: limits.clone(),
        cache: Mutex::new(TileCache::default()),
    });
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = std::thread::Builder::new()
        .name("accord-serve".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| ServeError::Runtime(e.to_string()))?;
            rt.block_on(run(listener, state, limits, stopped, signals))
        })
        .map_err(|e| ServeError::Runtime(e.to_string()))?;
    Ok(Server {
        addr: local,
        stop,
        task,
    })
}

/// The accept loop: a bounded number of connections, each served by hyper's HTTP/1 with the
/// limits of [`Limits`], until a stop signal; then connections in flight get a few seconds.
async fn run(
    listener: std::net::TcpListener,
    state: Shared,
    limits: Limits,
    mut stopped: tokio::sync::watch::Receiver<bool>,
    signals: bool,
) -> Result<(), ServeError> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let listener =
        tokio::net::TcpListener::from_std(listener).map_err(|e| ServeError::Runtime(e.to_string()))?;
    let app = router(state);
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.connections));
    let per_client: Arc<Mutex<HashMap<std::net::IpAddr, usize>>> = Arc::default();
    let (closing, _) = tokio::sync::broadcast::channel::<()>(1);
    let mut sigterm = if signals {
        Some(
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .map_err(|e| ServeError::Runtime(e.to_string()))?,
        )
    } else {
        None
    };
    let term = async {
        match &mut sigterm {
            Some(s) => {
                tokio::select! {
                    _ = s.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            None => std::future::pending().await,
        }
    };
    tokio::pin!(term);
    loop {
        let permit = tokio::select! {
            p = Arc::clone(&permits).acquire_owned() => p.map_err(|e| ServeError::Runtime(e.to_string()))?,
            _ = stopped.changed() => break,
            _ = &mut term => break,
        };
        let (stream, peer) = tokio::select! {
            a = listener.accept() => match a {
                Ok(x) => x,
                // Out of descriptors and the like: wait a little rather than spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped.changed() => break,
            _ = &mut term => break,
        };
        // One client may not take every connection: beyond its share it is closed at once,
        // and the others keep being served.
        let Some(slot) = ClientSlot::take(&per_client, peer.ip(), limits.per_client) else {
            drop(stream);
            continue;
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let mut close = closing.subscribe();
        let limits = limits.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _slot = slot;
            let io = StallGuard::new(stream, limits.write_stall);
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_time)
                .max_buf_size(limits.header_bytes.max(8192))
                .keep_alive(true)
                .serve_connection(TokioIo::new(io), service);
            tokio::pin!(conn);
            let deadline = tokio::time::sleep(limits.connection_time);
            tokio::pin!(deadline);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = close.recv() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(5), conn.as_mut()).await;
                }
                _ = &mut deadline => {}
            }
        });
    }
    // Stop: refuse new connections, let those in flight finish their request.
    let _ = closing.send(());
    let all = limits.connections as u32;
    let _ = tokio::time::timeout(Duration::from_secs(6), permits.acquire_many(all)).await;
    Ok(())
}

/// A client address's share of the connections, given back when the connection ends.
struct ClientSlot {
    counts: Arc<Mutex<HashMap<std::net::IpAddr, usize>>>,
    ip: std::net::IpAddr,
}

impl ClientSlot {
    /// One more connection for `ip`, if it holds fewer than `limit` (0: no limit).
    fn take(
        counts: &Arc<Mutex<HashMap<std::net::IpAddr, usize>>>,
        ip: std::net::IpAddr,
        limit: usize,
    ) -> Option<ClientSlot> {
        let mut m = counts.lock().ok()?;
        let n = m.entry(ip).or_insert(0);
        if limit != 0 && *n >= limit {
            return None;
        }
        *n += 1;
        Some(ClientSlot {
            counts: Arc::clone(counts),
            ip,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        if let Ok(mut m) = self.counts.lock() {
            if let Some(n) = m.get_mut(&self.ip) {
                *n -= 1;
                if *n == 0 {
                    m.remove(&self.ip);
                }
            }
        }
    }
}

/// A connection whose writes may not stall: a client that stops reading its responses (while
/// it pipelines more requests, or holds the connection) gets a write error after `limit` without
/// progress, which ends the connection and frees its place.
struct StallGuard<S> {
    inner: S,
    limit: Duration,
    stalled: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl<S> StallGuard<S> {
    fn new(inner: S, limit: Duration) -> Self {
        StallGuard {
            inner,
            limit,
            stalled: None,
        }
    }

    /// After a write returned `Pending`: arm the clock (once), and fail if it has run out.
    fn check_stall(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Error> {
        let limit = self.limit;
        let sleep = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match std::future::Future::poll(sleep.as_mut(), cx) {
            std::task::Poll::Ready(()) => std::task::Poll::Ready(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client did not read its response",
            )),
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for StallGuard<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for StallGuard<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match std::pin::Pin::new(&mut self.inner).poll_write(cx, buf) {
            std::task::Poll::Pending => self.check_stall(cx).map(Err),
            done => {
                self.stalled = None;
                done
            }
        }
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match std::pin::Pin::new(&mut self.inner).poll_flush(cx) {
            std::task::Poll::Pending => self.check_stall(cx).map(Err),
            done => {
                self.stalled = None;
                done
            }
        }
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs) {
            std::task::Poll::Pending => self.check_stall(cx).map(Err),
            done => {
                self.stalled = None;
                done
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
