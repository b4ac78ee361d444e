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
//!
//! With [`Writes`] the server is also the ledger's one writer (docs/FORMAT.md §14): `POST
//! /entries` takes a signed statement, which the [`crate::sequencer`] appends in a group commit
//! and which is answered once durable under a signed checkpoint; a refusal is an RFC 9290
//! problem report naming the rule. Admission is decided here: a statement for a registered
//! organisation on its signature, a registration by the custodian's [`Registrations`] choice,
//! each client within its rate, the queue and the pending registrations bounded. Approving a
//! pending registration is possible only locally, through a Unix socket in the ledger directory
//! ([`ADMIN_SOCKET`], mode 0600, the caller's user checked), never over the public listener.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use sha2::{Digest, Sha256};

use crate::checkpoint::{LedgerKey, VerifierKey};
use crate::ledger::{Ledger, LedgerError, Outcome};
use crate::pending::{PendingError, PendingLimits, PendingQueue};
use crate::publish::{FileKind, CATALOGUE_PATH, LOG_INFO_PATH};
use crate::sequencer::{AfterCommit, Sequencer, SubmitError};
use crate::statement::{Kind, Statement, MAX_STATEMENT_LEN};
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
            cache_bytes: 1 << 30,
        }
    }
}

/// Who may add a registration, the custodian's choice (`--registrations`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registrations {
    /// Anyone: a valid registration is appended like any statement.
    Open,
    /// No one over HTTP: registrations are made by the custodian locally.
    Closed,
    /// Registrations wait in a bounded queue until the custodian approves them locally
    /// (`accord approve ID`).
    Approve,
}

/// The write side of the server: what `POST /entries` needs and how far clients may push it.
pub struct Writes {
    /// The ledger's key, to sign the checkpoint of each commit.
    pub key: LedgerKey,
    /// Who may register.
    pub registrations: Registrations,
    /// How many registrations may wait for approval.
    pub pending: PendingLimits,
    /// Statements one client address may submit per minute (a burst of as many at once).
    pub per_client_per_minute: u32,
    /// Submissions waiting for a commit, at most; more are refused with 503.
    pub queue: usize,
    /// Called after each commit that appended something.
    pub after_commit: Option<AfterCommit>,
    /// Where to publish the ledger (C2SP tiles) after its commits: once at start, then after
    /// each commit that appended something, on a thread of its own (several commits made while
    /// a publication runs are published together), never holding up an answer.
    pub publish: Option<Publisher>,
    /// Collect cosignatures after each commit (docs/FORMAT.md section 17): `/checkpoint` then
    /// serves the newest checkpoint with the policy's quorum (404 before there is one), and
    /// `publish` publishes only such checkpoints.
    pub witnessing: Option<Witnessing>,
}

/// Collecting cosignatures from a witness policy's witnesses, on a thread of its own.
pub struct Witnessing {
    /// The policy (checked against the ledger's key by the caller).
    pub policy: crate::policy::WitnessPolicy,
    /// How long one request to a witness may take.
    pub timeout: Duration,
    /// Told the result of each collection (to log which witnesses are behind).
    pub report: WitnessingReport,
}

/// How the result of each collection is told.
pub type WitnessingReport =
    Box<dyn Fn(Result<&crate::witnessing::Collection, &crate::witnessing::WitnessingError>) + Send>;

/// The newest checkpoint note with the quorum of the policy, once there is one.
type Witnessed = Arc<Mutex<Option<Bytes>>>;

/// The newest cosigned note the store holds that meets `policy`'s quorum.
fn newest_witnessed(
    ledger: &Ledger,
    policy: &crate::policy::WitnessPolicy,
) -> Result<Option<Bytes>, LedgerError> {
    let now = u64::try_from(crate::clock::now()).unwrap_or(0);
    Ok(ledger
        .store()
        .cosigned()?
        .into_iter()
        .rev()
        .find(|(_, note)| policy.judge(note, now, None).quorum_met)
        .map(|(_, note)| Bytes::from(note)))
}

/// Starts the witnessing thread: one collection at once, then one after each wake (commits
/// made during a collection are collected together). A checkpoint that meets the quorum is
/// stored ([`crate::store::Store::put_cosigned`]), becomes what `/checkpoint` serves, and wakes
/// the publisher.
fn start_witnessing(
    ledger: Arc<Ledger>,
    dir: &Path,
    vkey: VerifierKey,
    w: Witnessing,
    witnessed: Witnessed,
    publisher: Option<std::sync::mpsc::Sender<()>>,
) -> std::sync::mpsc::Sender<()> {
    use crate::witnessing::{collect, CollectOptions, KnownSizes, EVIDENCE_DIR, SIZES_FILE};
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let _ = tx.send(());
    let sizes = dir.join(SIZES_FILE);
    let evidence_dir = dir.join(EVIDENCE_DIR);
    let _ = std::thread::Builder::new()
        .name("accord-witnessing".into())
        .spawn(move || {
            let mut known = KnownSizes::load(&sizes);
            while rx.recv().is_ok() {
                while rx.try_recv().is_ok() {}
                let Ok((size, note)) = ledger.latest_checkpoint() else {
                    continue;
                };
                let Ok(ours) = crate::checkpoint::SignedCheckpoint::open(&note, &vkey) else {
                    continue;
                };
                let now = u64::try_from(crate::clock::now()).unwrap_or(0);
                let done = witnessed
                    .lock()
                    .ok()
                    .and_then(|g| g.clone())
                    .is_some_and(|n| n.starts_with(&note) && w.policy.judge(&n, now, None).quorum_met);
                if done {
                    continue;
                }
                let options = CollectOptions {
                    timeout: w.timeout,
                    evidence_dir: evidence_dir.clone(),
                    now,
                };
                let result = ledger
                    .store()
                    .read(|r| collect(&w.policy, &ours, r, &mut known, &options).map_err(Either::W))
                    .and_then(|c| known.save(&sizes).map(|()| c).map_err(Either::W))
                    .and_then(|c| {
                        if c.quorum_met {
                            ledger.store().put_cosigned(size, &c.note)?;
                        }
                        Ok(c)
                    });
                match result {
                    Ok(c) => {
                        if c.quorum_met {
                            if let Ok(mut g) = witnessed.lock() {
                                *g = Some(Bytes::from(c.note.clone()));
                            }
                            if let Some(p) = &publisher {
                                let _ = p.send(());
                            }
                        }
                        (w.report)(Ok(&c));
                    }
                    Err(Either::W(e)) => (w.report)(Err(&e)),
                    Err(Either::S(e)) => (w.report)(Err(&crate::witnessing::WitnessingError::Io {
                        path: dir_of(&sizes),
                        problem: e.to_string(),
                    })),
                }
            }
        });
    tx
}

fn dir_of(p: &Path) -> std::path::PathBuf {
    p.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// A collection's error or the store's.
enum Either {
    W(crate::witnessing::WitnessingError),
    S(crate::store::StoreError),
}

impl From<crate::store::StoreError> for Either {
    fn from(e: crate::store::StoreError) -> Self {
        Either::S(e)
    }
}

/// A publication target and what to tell of each publication.
pub struct Publisher {
    /// Where.
    pub target: Box<dyn crate::publish::Target + Send + Sync>,
    /// Told the result of each publication (to log it).
    pub report: Box<dyn Fn(Result<crate::publish::PublishReport, crate::publish::PublishError>) + Send>,
}

/// Starts the publisher thread; returns what wakes it.
///
/// The first publication runs before the server starts and its failure stops the start: a
/// destination that is refused (another log's, one that others can change) or unreachable
/// is told to the custodian at once, instead of a published copy that silently stays behind.
/// Later failures are reported, and the next commit tries again.
fn start_publisher(
    ledger: Arc<Ledger>,
    p: Publisher,
    witnessed: Option<Witnessed>,
) -> Result<std::sync::mpsc::Sender<()>, ServeError> {
    // With witnessing, the checkpoint published is the newest with the quorum, once it is the
    // ledger's newest; until then the target keeps the one it has.
    let publish = move |ledger: &Ledger, target: &dyn crate::publish::Target| match &witnessed {
        None => crate::publish::publish(ledger, target, crate::publish::PublishOptions::default(), None),
        Some(w) => {
            let chosen = w.lock().ok().and_then(|g| g.clone());
            crate::publish::publish_with(
                ledger,
                target,
                crate::publish::PublishOptions::default(),
                None,
                &mut |ours, _, _| {
                    Ok(chosen
                        .as_ref()
                        .filter(|n| n.starts_with(&ours.note))
                        .map(|n| n.to_vec()))
                },
            )
        }
    };
    let first = publish(&ledger, p.target.as_ref()).map_err(|e| ServeError::Publish(e.to_string()))?;
    (p.report)(Ok(first));
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let _ = std::thread::Builder::new()
        .name("accord-publish".into())
        .spawn(move || {
            while rx.recv().is_ok() {
                // What woke it while it was publishing is published in this round.
                while rx.try_recv().is_ok() {}
                (p.report)(publish(&ledger, p.target.as_ref()));
            }
        });
    Ok(tx)
}

/// The Unix socket in the ledger directory on which a writing server takes the custodian's
/// local commands (approving registrations): mode 0600, and only the server's own user.
pub const ADMIN_SOCKET: &str = "admin.sock";

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
    /// A commit failed and the ledger could not be read after it (a full disk, a failing
    /// device): the server stopped rather than refuse every statement from then on.
    #[error("the ledger's storage failed, so the server stopped: {0}. Every statement acknowledged before is in the ledger; fix the cause (free space, the device), run `accord verify`, and start the server again")]
    StorageFailed(String),
    /// `--publish`: the first publication, before the server starts, failed.
    #[error("publishing when the server starts: {0}")]
    Publish(String),
}

/// Full tiles, by path, within a byte budget; the oldest go first. A body is shared, not
/// copied, by every response that sends it.
#[derive(Default)]
struct TileCache {
    map: HashMap<String, Bytes>,
    order: VecDeque<String>,
    bytes: usize,
}

impl TileCache {
    fn get(&self, path: &str) -> Option<Bytes> {
        self.map.get(path).cloned()
    }
    fn put(&mut self, path: String, bytes: Bytes, budget: usize) {
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

/// What identifies one state of the ledger's database file: its modification time, length and
/// inode. Every commit writes the file, which moves its modification time on.
#[derive(Clone, Copy, PartialEq, Eq)]
struct FileStamp(std::time::SystemTime, u64, u64);

impl FileStamp {
    fn of(path: &Path) -> Option<FileStamp> {
        use std::os::unix::fs::MetadataExt as _;
        let m = std::fs::metadata(path).ok()?;
        Some(FileStamp(m.modified().ok()?, m.len(), m.ino()))
    }
}

/// How long after the file's modification time a note must have been read for it to be kept:
/// file times come from a coarse clock (a tick of a few milliseconds), and a commit made in
/// the same tick as the one stamped, after the note was read, would not move the time on.
const STAMP_MARGIN: Duration = Duration::from_millis(50);

/// The latest checkpoint as last read, with the stamp of the database file it was read from
/// (reading it is a read transaction; serving it from memory is most of the difference under
/// load). It is served again only while the file's stamp is unchanged, so that an append by
/// any process, this server's own commits included, is seen by the next request.
struct CheckpointCache {
    db: std::path::PathBuf,
    cached: Mutex<Option<(FileStamp, Bytes)>>,
}

impl CheckpointCache {
    fn note(&self, ledger: &Ledger) -> Result<Bytes, LedgerError> {
        let stamp = FileStamp::of(&self.db);
        if let (Some(stamp), Ok(g)) = (stamp, self.cached.lock()) {
            if let Some((_, note)) = g.as_ref().filter(|(s, _)| *s == stamp) {
                return Ok(note.clone());
            }
        }
        // The clock is read before the note: the note is no older than `read_at`.
        let read_at = std::time::SystemTime::now();
        let note = Bytes::from(ledger.latest_checkpoint()?.1);
        if let Some(stamp) = stamp {
            let settled = stamp.0.checked_add(STAMP_MARGIN).is_some_and(|t| t <= read_at);
            if let Ok(mut g) = self.cached.lock() {
                *g = settled.then(|| (stamp, note.clone()));
            }
        }
        Ok(note)
    }
}

struct AppState {
    ledger: Arc<Ledger>,
    vkey: VerifierKey,
    limits: Limits,
    cache: Mutex<TileCache>,
    checkpoint: CheckpointCache,
    writer: Option<Writer>,
    /// With witnessing: what `/checkpoint` serves.
    witnessed: Option<Witnessed>,
}

/// The write side, while the server runs.
struct Writer {
    sequencer: Sequencer,
    registrations: Registrations,
    pending: PendingQueue,
    rate: Mutex<RateLimits>,
    per_minute: u32,
}

/// Token buckets per client address: `per_minute` statements a minute, as many at once.
#[derive(Default)]
struct RateLimits {
    buckets: HashMap<std::net::IpAddr, (f64, std::time::Instant)>,
}

impl RateLimits {
    /// Takes one token for `ip`; `Err(seconds)` to wait when there is none.
    fn take(&mut self, ip: std::net::IpAddr, per_minute: u32) -> Result<(), u64> {
        let now = std::time::Instant::now();
        let cap = f64::from(per_minute.max(1));
        let rate = cap / 60.0;
        // A bounded map: buckets that have refilled are forgotten first.
        if self.buckets.len() > 100_000 {
            self.buckets
                .retain(|_, (t, at)| *t + now.duration_since(*at).as_secs_f64() * rate < cap);
        }
        let (tokens, at) = self.buckets.entry(ip).or_insert((cap, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(cap);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / rate).ceil() as u64)
        }
    }
}

/// The address of the client of a request (set per connection).
#[derive(Debug, Clone, Copy)]
struct ClientAddr(std::net::IpAddr);

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
fn file_response(headers: &HeaderMap, kind: FileKind, body: Bytes) -> Response {
    let tag = content_tag(&body);
    respond(headers, kind.content_type(), kind.cache_control(), body, &tag)
}

/// An entity tag for `body`: the first 16 bytes of its SHA-256, in hex.
fn content_tag(body: &[u8]) -> String {
    hex::encode(&Sha256::digest(body)[..16])
}

/// The entity tag of a tile: a tile's path names its bytes for ever within one log (tiles are
/// immutable), so the tag is made from the log's key and the path, without hashing the body.
fn tile_tag(vkey: &VerifierKey, path: &str) -> String {
    let mut h = Sha256::new();
    h.update(vkey.to_string().as_bytes());
    h.update(b"\n");
    h.update(path.as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// A response with a weak ETag (weak, because the same body is also sent gzip-encoded, RFC
/// 9110 §8.8.1) and 304 for an `If-None-Match` that matches it (weak comparison, §13.1.2) or
/// is `*`.
fn respond(
    headers: &HeaderMap,
    content_type: &'static str,
    cache: &'static str,
    body: Bytes,
    tag: &str,
) -> Response {
    let etag = format!("W/\"{tag}\"");
    let quoted = format!("\"{tag}\"");
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == quoted);
    let mut r = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Response::new(Body::from(body))
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
    let tag = content_tag(&body);
    Ok(respond(
        headers,
        "application/json",
        "no-cache",
        Bytes::from(body),
        &tag,
    ))
}

fn read<T>(s: &Shared, f: impl FnOnce(&ReadTables) -> Result<T, LedgerError>) -> Result<T, Answer> {
    s.ledger.store().read(f).map_err(Answer::from)
}

async fn checkpoint(State(s): State<Shared>, headers: HeaderMap) -> Result<Response, Answer> {
    if let Some(w) = &s.witnessed {
        let note = w.lock().ok().and_then(|g| g.clone());
        return match note {
            Some(note) => Ok(file_response(&headers, FileKind::Checkpoint, note)),
            None => Ok(problem(
                StatusCode::NOT_FOUND,
                "not-yet-witnessed",
                "No witnessed checkpoint yet",
                "no checkpoint of this log has its witnesses' quorum yet; try again later",
            )),
        };
    }
    let note = s.checkpoint.note(&s.ledger)?;
    Ok(file_response(&headers, FileKind::Checkpoint, note))
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
    let tag = tile_tag(&s.vkey, &path);
    if let Some(b) = s.cache.lock().map_err(|_| not_found())?.get(&path) {
        return Ok(respond(
            &headers,
            FileKind::Tile.content_type(),
            FileKind::Tile.cache_control(),
            b,
            &tag,
        ));
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
                // The bundle is written as the entries are read: one copy of each.
                let range = tile.leaves();
                let mut bundle = Vec::with_capacity(usize::from(tile.width) * 512);
                r.for_each_entry(range.start, |i, b| -> Result<bool, LedgerError> {
                    if i >= range.end {
                        return Ok(false);
                    }
                    let len = u16::try_from(b.len()).map_err(|_| {
                        crate::store::StoreError::Damaged(format!("entry {i} is longer than 65,535 bytes"))
                    })?;
                    bundle.extend_from_slice(&len.to_be_bytes());
                    bundle.extend_from_slice(b);
                    Ok(true)
                })?;
                bundle
            }
        }))
    })?
    .ok_or_else(not_found)?;
    let bytes = Bytes::from(bytes);
    if tile.is_full() {
        if let Ok(mut c) = s.cache.lock() {
            c.put(path, bytes.clone(), s.limits.cache_bytes);
        }
    }
    Ok(respond(
        &headers,
        FileKind::Tile.content_type(),
        FileKind::Tile.cache_control(),
        bytes,
        &tag,
    ))
}

async fn log_info(State(s): State<Shared>, headers: HeaderMap) -> Response {
    file_response(
        &headers,
        FileKind::Json,
        Bytes::from(crate::publish::log_info(&s.vkey)),
    )
}

async fn catalogue(headers: HeaderMap) -> Response {
    file_response(
        &headers,
        FileKind::Json,
        Bytes::from_static(crate::norms::CATALOGUE_V1_JSON.as_bytes()),
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
    let tag = content_tag(text.as_bytes());
    Ok(respond(
        &headers,
        "application/json",
        "no-cache",
        Bytes::from(text),
        &tag,
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

/// An RFC 9290 problem report: `type` a URN naming the rule (`urn:accord:problem:RULE`), the
/// HTTP status, a title and the detail; `rule` repeats the rule's name for scripts.
fn problem(status: StatusCode, rule: &str, title: &str, detail: impl Into<String>) -> Response {
    let body = serde_json::json!({
        "type": format!("urn:accord:problem:{rule}"),
        "title": title,
        "status": status.as_u16(),
        "detail": detail.into(),
        "rule": rule,
    });
    let mut r = Response::new(Body::from(serde_json::to_vec_pretty(&body).unwrap_or_default()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `problem` with a `Retry-After` of `seconds`.
fn retry_later(status: StatusCode, rule: &str, title: &str, detail: String, seconds: u64) -> Response {
    let mut r = problem(status, rule, title, detail);
    if let Ok(v) = HeaderValue::from_str(&seconds.max(1).to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// What `POST /entries` answers for a statement in the ledger (docs/FORMAT.md §14).
#[derive(serde::Serialize)]
struct Accepted {
    /// Its entry index.
    index: u64,
    /// Its statement id, hex.
    statement_id: String,
    /// Its kind.
    kind: String,
    /// The organisation (normalised).
    org: String,
    /// Whether it was in the ledger before this request (a resubmission).
    already_in: bool,
    /// The size of the signed checkpoint below.
    tree_size: u64,
    /// The latest signed checkpoint, which covers the entry (C2SP note text).
    checkpoint: String,
}

/// `Accepted` as JSON, or as CBOR when the client asks for `application/cbor`.
fn accepted_response(headers: &HeaderMap, status: StatusCode, a: &Accepted) -> Response {
    let cbor = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',').any(|t| {
                t.split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/cbor"))
            })
        });
    let (body, ct) = if cbor {
        let mut b = Vec::new();
        if ciborium::into_writer(a, &mut b).is_err() {
            return problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Encoding failed",
                "CBOR",
            );
        }
        (b, "application/cbor")
    } else {
        let mut b = serde_json::to_vec_pretty(a).unwrap_or_default();
        b.push(b'\n');
        (b, "application/json")
    };
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The answer for a statement that is in the ledger at `index`.
fn in_ledger(s: &Shared, headers: &HeaderMap, st: &Statement, index: u64, already_in: bool) -> Response {
    let (tree_size, note) = match s.ledger.latest_checkpoint() {
        Ok(x) => x,
        Err(e) => {
            return problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Ledger",
                e.to_string(),
            )
        }
    };
    let a = Accepted {
        index,
        statement_id: hex::encode(st.id()),
        kind: st.kind().to_string(),
        org: st.iss.clone(),
        already_in,
        tree_size,
        checkpoint: String::from_utf8_lossy(&note).into_owned(),
    };
    let status = if already_in {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    accepted_response(headers, status, &a)
}

/// Checks a registration before it waits for approval, so that one the ledger would refuse
/// anyway does not take a place in the queue: the ledger's own rules
/// ([`crate::rules::check_rules`], the same as an append runs, on the ledger as it is now) and
/// its signature. They run again when it is approved, on the ledger as it is then.
fn precheck_registration(s: &Shared, st: &Statement) -> Result<(), Box<Response>> {
    let refuse = |r: crate::rules::Rejection| {
        Box::new(problem(
            StatusCode::BAD_REQUEST,
            r.code(),
            "Statement refused",
            r.to_string(),
        ))
    };
    let origin = s.vkey.name().to_string();
    let checked = s.ledger.store().read(|t| {
        crate::rules::check_rules(
            st,
            &origin,
            crate::clock::now(),
            crate::entry::ENTRY_VERSION,
            t,
            crate::norms::Catalogue::embedded(),
        )
        .map_err(LedgerError::from)
    });
    match checked {
        Ok(Ok(key)) => st.verify_signature(&key).map_err(|e| refuse(e.into())),
        Ok(Err(r)) => Err(refuse(r)),
        Err(e) => Err(Box::new(problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Ledger",
            e.to_string(),
        ))),
    }
}

/// `POST /entries`: a signed statement (`application/cose`, one COSE_Sign1), admitted, appended
/// in the next group commit, answered once durable.
async fn submit(
    State(s): State<Shared>,
    axum::Extension(ClientAddr(ip)): axum::Extension<ClientAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Some(w) = &s.writer else {
        return problem(
            StatusCode::METHOD_NOT_ALLOWED,
            "read-only",
            "This server only reads",
            "this server takes no statements",
        );
    };
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase());
    if media.as_deref() != Some("application/cose") {
        return problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Not a COSE statement",
            "POST /entries takes one signed statement as application/cose (a COSE_Sign1)",
        );
    }
    let limited = match w.rate.lock() {
        Ok(mut r) => r.take(ip, w.per_minute),
        Err(_) => Ok(()),
    };
    if let Err(wait) = limited {
        return retry_later(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too many statements",
            format!("this client may submit {} statements a minute", w.per_minute),
            wait,
        );
    }
    let st = match Statement::decode(&body) {
        Ok(st) => st,
        Err(e) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "malformed-statement",
                "Statement refused",
                e.to_string(),
            )
        }
    };
    if st.kind() == Kind::Registration && w.registrations != Registrations::Open {
        if let Ok(Some(index)) = s.ledger.store().read(|t| t.statement_index(&st.id())) {
            return in_ledger(&s, &headers, &st, index, true);
        }
        if w.registrations == Registrations::Closed {
            return problem(
                StatusCode::FORBIDDEN,
                "registrations-closed",
                "Registrations are closed",
                "this ledger takes no registrations over HTTP; ask its custodian to register the organisation",
            );
        }
        if let Err(r) = precheck_registration(&s, &st) {
            return *r;
        }
        return match w.pending.add(&st, &ip.to_string(), crate::clock::now()) {
            Ok(_) => {
                let body = serde_json::json!({
                    "status": "pending",
                    "statement_id": hex::encode(st.id()),
                    "org": st.iss,
                    "detail": "the registration waits for the custodian's approval; submit it again later to learn its index",
                });
                let mut r = Response::new(Body::from(serde_json::to_vec_pretty(&body).unwrap_or_default()));
                *r.status_mut() = StatusCode::ACCEPTED;
                r.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                r
            }
            Err(PendingError::Full(n)) => retry_later(
                StatusCode::SERVICE_UNAVAILABLE,
                "pending-full",
                "Too many registrations waiting",
                format!("{n} registrations are waiting for approval"),
                3600,
            ),
            Err(e @ PendingError::ClientFull(_)) => retry_later(
                StatusCode::TOO_MANY_REQUESTS,
                "pending-client-full",
                "Too many registrations waiting",
                e.to_string(),
                3600,
            ),
            Err(e) => problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Pending queue",
                e.to_string(),
            ),
        };
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    w.sequencer.submit(
        body.to_vec(),
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
    );
    match rx.await {
        Ok(Ok(Outcome::Appended(a))) => in_ledger(&s, &headers, &st, a.index, false),
        Ok(Ok(Outcome::AlreadyIn { index, .. })) => in_ledger(&s, &headers, &st, index, true),
        Ok(Ok(Outcome::Refused(r))) => problem(
            StatusCode::BAD_REQUEST,
            r.code(),
            "Statement refused",
            r.to_string(),
        ),
        Ok(Err(e @ SubmitError::Busy(_))) => {
            retry_later(StatusCode::SERVICE_UNAVAILABLE, "busy", "Busy", e.to_string(), 1)
        }
        Ok(Err(e @ SubmitError::Stopped)) => retry_later(
            StatusCode::SERVICE_UNAVAILABLE,
            "closing",
            "Closing",
            e.to_string(),
            5,
        ),
        Ok(Err(e @ SubmitError::Commit(_))) => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "commit-failed",
            "The commit failed",
            e.to_string(),
        ),
        Err(_) => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "No answer",
            "the sequencer did not answer",
        ),
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
    let writes = Router::new()
        .route("/entries", post(submit))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_STATEMENT_LEN));
    let writable = state.writer.is_some();
    let reads = Router::new()
        .route("/checkpoint", get(checkpoint))
        .route("/tile/{*rest}", get(tile))
        .route(&format!("/{LOG_INFO_PATH}"), get(log_info))
        .route(&format!("/{CATALOGUE_PATH}"), get(catalogue))
        .route("/api/v1/status", get(api_status))
        .route("/api/v1/orgs", get(api_orgs))
        .route("/api/v1/entries/{n}", get(api_entry))
        .route("/api/v1/proof/{n}", get(api_proof))
        .merge(bundles)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(0));
    let app = if writable { reads.merge(writes) } else { reads };
    app.fallback(fallback)
        .layer(axum::middleware::from_fn(only_canonical))
        .layer(compress)
        .layer(cors)
        .layer(timeout)
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
    stop: Arc<tokio::sync::watch::Sender<bool>>,
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
/// stops gracefully on SIGTERM or SIGINT. With `writes`, the server opens the ledger for
/// writing (it is then its one writer: other processes' appends wait for it, and go through
/// `POST /entries` instead), takes statements, and listens on [`ADMIN_SOCKET`] for the
/// custodian's local commands.
///
/// # Errors
/// [`ServeError`] when the ledger cannot be opened or the address not listened on.
pub fn start(
    dir: &Path,
    addr: &str,
    limits: Limits,
    writes: Option<Writes>,
    signals: bool,
) -> Result<Server, ServeError> {
    let ledger = Arc::new(if writes.is_some() {
        Ledger::open(dir)?
    } else {
        Ledger::open_read_only(dir)?
    });
    let vkey = VerifierKey::parse(&ledger.recorded_vkey()?).map_err(LedgerError::from)?;
    let (listener, local) = bind(addr)?;
    let mut admin = None;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let stop = Arc::new(stop);
    let failed: Arc<Mutex<Option<String>>> = Arc::default();
    let checkpoint = CheckpointCache {
        db: crate::store::Store::db_path(dir),
        cached: Mutex::new(None),
    };
    let mut witnessed = None;
    let writer = match writes {
        None => None,
        Some(w) => {
            if w.key.verifier_key() != vkey {
                return Err(ServeError::Ledger(LedgerError::WrongLedgerKey {
                    given: w.key.verifier_key().to_string(),
                    recorded: vkey.to_string(),
                }));
            }
            let mut after = w.after_commit;
            if let Some(wi) = &w.witnessing {
                witnessed = Some(Arc::new(Mutex::new(newest_witnessed(&ledger, &wi.policy)?)));
            }
            let wake = match w.publish {
                Some(p) => Some(start_publisher(Arc::clone(&ledger), p, witnessed.clone())?),
                None => None,
            };
            let wake = match (w.witnessing, &witnessed) {
                (Some(wi), Some(witnessed)) => {
                    let collector = start_witnessing(
                        Arc::clone(&ledger),
                        dir,
                        vkey.clone(),
                        wi,
                        Arc::clone(witnessed),
                        wake.clone(),
                    );
                    Some((collector, wake))
                }
                _ => wake.map(|p| (p, None)),
            };
            admin = Some(bind_admin(dir)?);
            if let Some((wake, also)) = wake {
                let mut user = after.take();
                after = Some(Box::new(move |size| {
                    let _ = wake.send(());
                    if let Some(also) = &also {
                        let _ = also.send(());
                    }
                    if let Some(f) = user.as_mut() {
                        f(size);
                    }
                }));
            }
            Some(Writer {
                sequencer: Sequencer::start(
                    Arc::clone(&ledger),
                    w.key,
                    crate::norms::Catalogue::embedded(),
                    w.queue,
                    after,
                    Some({
                        let (stop, failed) = (Arc::clone(&stop), Arc::clone(&failed));
                        Box::new(move |why: String| {
                            if let Ok(mut f) = failed.lock() {
                                *f = Some(why);
                            }
                            let _ = stop.send(true);
                        })
                    }),
                ),
                registrations: w.registrations,
                pending: PendingQueue::new(dir, w.pending),
                rate: Mutex::new(RateLimits::default()),
                per_minute: w.per_client_per_minute,
            })
        }
    };
    let state = Arc::new(AppState {
        ledger,
        vkey,
        limits: limits.clone(),
        cache: Mutex::new(TileCache::default()),
        checkpoint,
        writer,
        witnessed,
    });
    let task = std::thread::Builder::new()
        .name("accord-serve".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| ServeError::Runtime(e.to_string()))?;
            let result = rt.block_on(async {
                if let Some((listener, path)) = admin {
                    let l = tokio::net::UnixListener::from_std(listener)
                        .map_err(|e| ServeError::Runtime(e.to_string()))?;
                    tokio::spawn(admin_loop(l, path, Arc::clone(&state)));
                }
                run(listener, router(Arc::clone(&state)), limits, stopped, signals).await
            });
            if let Some(w) = Arc::into_inner(state).and_then(|s| s.writer) {
                // Answers what is queued, then ends.
                w.sequencer.stop();
            }
            match failed.lock().ok().and_then(|mut f| f.take()) {
                Some(why) => Err(ServeError::StorageFailed(why)),
                None => result,
            }
        })
        .map_err(|e| ServeError::Runtime(e.to_string()))?;
    Ok(Server {
        addr: local,
        stop,
        task,
    })
}

/// Binds the admin socket in the ledger directory, replacing one a killed server left; mode
/// 0600.
fn bind_admin(dir: &Path) -> Result<(std::os::unix::net::UnixListener, std::path::PathBuf), ServeError> {
    use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
    let path = dir.join(ADMIN_SOCKET);
    let fail = |e: std::io::Error| ServeError::Listen {
        addr: path.display().to_string(),
        problem: e.to_string(),
    };
    if let Ok(m) = std::fs::symlink_metadata(&path) {
        if !m.file_type().is_socket() {
            return Err(fail(std::io::Error::other(
                "exists and is not a socket; remove it if it is not yours",
            )));
        }
        // We hold the ledger's write lock, so no other server uses it: one a killed server left.
        std::fs::remove_file(&path).map_err(fail)?;
    }
    let l = std::os::unix::net::UnixListener::bind(&path).map_err(fail)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(fail)?;
    l.set_nonblocking(true).map_err(fail)?;
    Ok((l, path))
}

/// The custodian's local commands, one per connection: a line `approve ID` (at most 256
/// bytes, within 10 s), answered with one line of JSON. Only the user the server runs as may
/// speak (the socket's mode, and the peer's credentials checked).
async fn admin_loop(listener: tokio::net::UnixListener, path: std::path::PathBuf, s: Shared) {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(own) = std::fs::metadata(&path).map(|m| m.uid()) else {
        return;
    };
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        if stream.peer_cred().ok().map(|c| c.uid()) != Some(own) {
            continue;
        }
        let s = Arc::clone(&s);
        tokio::spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(60), admin_command(stream, s)).await;
        });
    }
}

async fn admin_command(stream: tokio::net::UnixStream, s: Shared) {
    use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _};
    let (r, mut w) = stream.into_split();
    let mut line = String::new();
    let read = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::io::BufReader::new(r.take(256)).read_line(&mut line),
    )
    .await;
    let answer = match read {
        Ok(Ok(_)) => admin_answer(line.trim_end(), &s).await,
        _ => serde_json::json!({"ok": false, "error": "no command"}),
    };
    let mut out = answer.to_string();
    out.push('\n');
    let _ = w.write_all(out.as_bytes()).await;
}

/// What `approve ID` does in a writing server: the pending registration submitted like any
/// statement; it leaves the queue whether appended or refused.
async fn admin_answer(line: &str, s: &Shared) -> serde_json::Value {
    let Some(w) = &s.writer else {
        return serde_json::json!({"ok": false, "error": "this server takes no statements"});
    };
    let Some(prefix) = line.strip_prefix("approve ") else {
        return serde_json::json!({"ok": false, "error": format!("unknown command {line:?} (approve ID)")});
    };
    // The decision lock is held until the registration has left the queue (a rejection in
    // another process waits, then finds it gone).
    let q = w.pending.clone();
    let guard = match tokio::task::spawn_blocking(move || q.decide()).await {
        Ok(Ok(g)) => g,
        Ok(Err(e)) => return serde_json::json!({"ok": false, "error": e.to_string()}),
        Err(e) => return serde_json::json!({"ok": false, "error": e.to_string()}),
    };
    let p = match w.pending.find(prefix) {
        Ok(p) => p,
        Err(e) => return serde_json::json!({"ok": false, "error": e.to_string()}),
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    w.sequencer.submit(
        p.statement.clone(),
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
    );
    let id = crate::pending::parse_id(&p.id).unwrap_or_default();
    let answer = match rx.await {
        Ok(Ok(Outcome::Appended(a))) => {
            let _ = w.pending.remove(&id);
            serde_json::json!({"ok": true, "index": a.index, "statement_id": p.id, "org": p.org, "already_in": false})
        }
        Ok(Ok(Outcome::AlreadyIn { index, .. })) => {
            let _ = w.pending.remove(&id);
            serde_json::json!({"ok": true, "index": index, "statement_id": p.id, "org": p.org, "already_in": true})
        }
        Ok(Ok(Outcome::Refused(r))) => {
            let _ = w.pending.remove(&id);
            serde_json::json!({"ok": false, "refused": true, "rule": r.code(), "error": r.to_string(), "statement_id": p.id})
        }
        Ok(Err(e)) => serde_json::json!({"ok": false, "error": e.to_string()}),
        Err(_) => serde_json::json!({"ok": false, "error": "no answer from the sequencer"}),
    };
    drop(guard);
    answer
}

/// Binds `addr` for the async server (non-blocking); the listener and the address it got.
fn bind(addr: &str) -> Result<(std::net::TcpListener, SocketAddr), ServeError> {
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
    Ok((listener, local))
}

/// The witness's side of `accord witness serve`: what a request handler needs.
struct WitnessApp {
    witness: crate::witness::Witness,
    state: crate::store::witness::WitnessDb,
}

/// `POST /add-checkpoint` (C2SP tlog-witness): the body is read within the request time and
/// [`crate::witness::MAX_REQUEST_SIZE`]; the check, the update and its fsync run on a blocking
/// thread, and the answer is sent only after the commit.
async fn add_checkpoint(State(w): State<Arc<WitnessApp>>, body: Bytes) -> Response {
    use crate::witness::WitnessError;
    let now = u64::try_from(crate::clock::now()).unwrap_or(1).max(1);
    let w2 = Arc::clone(&w);
    let done = tokio::task::spawn_blocking(move || w2.witness.add_checkpoint(&body, &w2.state, now)).await;
    let text = |status: StatusCode, msg: String| {
        (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            )],
            format!("{msg}\n"),
        )
            .into_response()
    };
    match done {
        Ok(Ok(lines)) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            )],
            lines,
        )
            .into_response(),
        Ok(Err(WitnessError::Refused(crate::witness::Refusal::Conflict { latest, .. }))) => (
            StatusCode::CONFLICT,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(crate::witness::SIZE_CONTENT_TYPE),
            )],
            format!("{latest}\n"),
        )
            .into_response(),
        Ok(Err(WitnessError::Refused(r))) => text(
            StatusCode::from_u16(r.status()).unwrap_or(StatusCode::BAD_REQUEST),
            r.to_string(),
        ),
        Ok(Err(e)) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "the request failed".into()),
    }
}

/// The witness's routes: `POST /add-checkpoint` and nothing else.
fn witness_router(app: Arc<WitnessApp>, limits: &Limits) -> Router {
    // A body that never ends (or arrives a byte at a time) is cut at the request time: the
    // handler reads the body inside this timeout.
    let timeout =
        tower_http::timeout::TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, limits.request_time);
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            crate::witness::MAX_REQUEST_SIZE,
        ))
        .fallback(|method: Method| async move {
            if method == Method::POST {
                (StatusCode::NOT_FOUND, "not found\n").into_response()
            } else {
                (
                    StatusCode::METHOD_NOT_ALLOWED,
                    [(header::ALLOW, HeaderValue::from_static("POST"))],
                    "only POST /add-checkpoint\n",
                )
                    .into_response()
            }
        })
        .layer(timeout)
        .with_state(app)
}

/// Starts a witness (`accord witness serve`) on `addr`, on a thread of its own, with the
/// connection limits of `limits` (`request_time` also bounds reading a request's body); with
/// `signals`, it stops gracefully on SIGTERM or SIGINT.
///
/// # Errors
/// [`ServeError::Listen`] when the address cannot be listened on.
pub fn start_witness(
    addr: &str,
    limits: Limits,
    witness: crate::witness::Witness,
    state: crate::store::witness::WitnessDb,
    signals: bool,
) -> Result<Server, ServeError> {
    let (listener, local) = bind(addr)?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let app = Arc::new(WitnessApp { witness, state });
    let task = std::thread::Builder::new()
        .name("accord-witness".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| ServeError::Runtime(e.to_string()))?;
            let router = witness_router(app, &limits);
            rt.block_on(run(listener, router, limits, stopped, signals))
        })
        .map_err(|e| ServeError::Runtime(e.to_string()))?;
    Ok(Server {
        addr: local,
        stop: Arc::new(stop),
        task,
    })
}

/// The accept loop: a bounded number of connections, each served by hyper's HTTP/1 with the
/// limits of [`Limits`], until a stop signal; then connections in flight get a few seconds.
async fn run(
    listener: std::net::TcpListener,
    app: Router,
    limits: Limits,
    mut stopped: tokio::sync::watch::Receiver<bool>,
    signals: bool,
) -> Result<(), ServeError> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let listener =
        tokio::net::TcpListener::from_std(listener).map_err(|e| ServeError::Runtime(e.to_string()))?;
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
        let service = hyper_util::service::TowerToHyperService::new(
            app.clone().layer(axum::Extension(ClientAddr(peer.ip()))),
        );
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
