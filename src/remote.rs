//! Reading a log published as C2SP tlog-tiles, from a directory or over HTTP(S), as a client of
//! a host it does not trust (docs/FORMAT.md section 13).
//!
//! The entries are read once, bundle by bundle, and handed on as an export stream
//! ([`TileStream`], the format of [`crate::export`]), so that verifying a published log and
//! mirroring it run exactly the code that verifies and imports an export file. Beside the
//! entries, every hash tile is checked against them: a level-0 tile must hold the leaf hashes of
//! the entries of its bundle, and each hash of a tile at level L the root of the full tile
//! below. So a host cannot serve one tree to tile clients and another to accord.
//!
//! As a client of an untrusted host it bounds everything it reads: the size of every response
//! (after decompression: a small body that inflates to gigabytes is refused), the number of
//! requests (what the checkpoint's size needs, and no more), and time.

use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::checkpoint::{SignedCheckpoint, VerifierKey, MAX_NOTE_SIZE};
use crate::merkle::{leaf_hash, node_hash, Hash};
use crate::tiles::{self, Tile, TileKind, FULL_TILE_BYTES, MAX_BUNDLE_BYTES, TILE_WIDTH};

/// How long one HTTP request may take by default, connection and body included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What went wrong reading a published log.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RemoteError {
    /// The host could not be reached, or answered with an error (refused, reset, timed out,
    /// 404, 5xx, a truncated body): not a verdict on the log (exit 2).
    #[error("{source_label}: {path}: {problem}")]
    Unavailable {
        /// The source.
        source_label: String,
        /// What was asked for.
        path: String,
        /// What happened.
        problem: String,
    },
    /// What the host served is invalid: a tile that does not match the entries, a malformed
    /// bundle, a checkpoint that does not verify (exit 1).
    #[error("{source_label}: {path}: {problem}")]
    Invalid {
        /// The source.
        source_label: String,
        /// The file at fault.
        path: String,
        /// What is wrong.
        problem: String,
    },
}

impl RemoteError {
    /// Whether this is a verdict on the data (exit 1), not a failure to read it (exit 2).
    pub fn is_invalid(&self) -> bool {
        matches!(self, RemoteError::Invalid { .. })
    }
}

/// Where a published log is read from.
pub trait TileSource: Send + Sync {
    /// How it is named in messages.
    fn label(&self) -> String;
    /// The file at `path` below the log's prefix; `Ok(None)` when the host says it has none
    /// (404); more than `max` bytes (decompressed) is an error.
    ///
    /// # Errors
    /// [`RemoteError::Unavailable`].
    fn get(&self, path: &str, max: usize) -> Result<Option<Vec<u8>>, RemoteError>;
}

/// A directory written by `accord publish`.
#[derive(Debug, Clone)]
pub struct DirSource {
    root: std::path::PathBuf,
}

impl DirSource {
    /// The directory.
    pub fn new(root: impl Into<std::path::PathBuf>) -> Self {
        DirSource { root: root.into() }
    }
}

impl TileSource for DirSource {
    fn label(&self) -> String {
        self.root.display().to_string()
    }
    fn get(&self, path: &str, max: usize) -> Result<Option<Vec<u8>>, RemoteError> {
        let unavailable = |p: String| RemoteError::Unavailable {
            source_label: self.label(),
            path: path.to_string(),
            problem: p,
        };
        // Only a regular file is read, never through a symlink at its name, and never
        // blocking on a FIFO or a device planted in the directory.
        let file = match crate::localfs::open_regular(&self.root.join(path)) {
            Ok(Some(f)) => f,
            Ok(None) => return Ok(None),
            Err(e) => return Err(unavailable(e.to_string())),
        };
        let mut v = Vec::new();
        file.take(max as u64 + 1)
            .read_to_end(&mut v)
            .map_err(|e| unavailable(e.to_string()))?;
        if v.len() > max {
            return Err(unavailable(format!(
                "larger than the {max} bytes such a file can be"
            )));
        }
        Ok(Some(v))
    }
}

/// A URL as it may be shown: any user name and password in it (`https://user:pw@host/`)
/// replaced with `***`, so that no message, progress line or JSON output repeats a secret the
/// user put in the URL.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &url[..scheme_end + 3], &rest[at..]),
        None => url.to_string(),
    }
}

/// A log served over HTTP(S) at a URL prefix (`https://example.org/pledges/`).
///
/// It reads a file only from a `200 OK` response at the file's own URL: a redirect is not
/// followed (it would send requests to a host the user never named, and more than one per
/// file), any other status is not data, and the body must be sent as is (`identity`) or as
/// exactly one gzip member and nothing after it. Anything else is a failure to read the log
/// (exit 2), never a verdict on it.
pub struct HttpSource {
    base: String,
    /// `base` as shown ([`redact`]).
    shown: String,
    client: reqwest::blocking::Client,
    timeout: Duration,
}

impl HttpSource {
    /// A source at `base` (an `http://` or `https://` URL; a trailing `/` is added), each
    /// request of which may take `timeout` in all (connecting, and reading the whole body).
    ///
    /// # Errors
    /// [`RemoteError::Unavailable`] for a URL of another scheme or a client that cannot be built.
    pub fn new(base: &str, timeout: Duration) -> Result<Self, RemoteError> {
        let bad = |p: &str| RemoteError::Unavailable {
            source_label: redact(base),
            path: String::new(),
            problem: p.to_string(),
        };
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(bad("not an http:// or https:// URL"));
        }
        // TLS through rustls with the ring provider (not aws-lc-rs, whose licence the
        // dependency check refuses); installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::blocking::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            // Decoded here, where the codings accepted and the bounds are chosen.
            .no_gzip()
            .user_agent(concat!("accord/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| bad(&describe(e)))?;
        let mut base = base.to_string();
        if !base.ends_with('/') {
            base.push('/');
        }
        Ok(HttpSource {
            shown: redact(&base),
            base,
            client,
            timeout,
        })
    }
}

/// How a response body is encoded (`Content-Encoding`): as is, or one gzip member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Identity,
    Gzip,
}

/// The coding of a response, from every `Content-Encoding` header it carries: none or
/// `identity`, or exactly one `gzip` (RFC 9110 section 8.4; `x-gzip` is the same coding).
/// Anything else (`deflate`, `br`, `gzip, gzip`, an unknown name) is refused, not guessed.
fn coding(headers: &reqwest::header::HeaderMap) -> Result<Coding, String> {
    let mut names = Vec::new();
    for v in headers.get_all(reqwest::header::CONTENT_ENCODING) {
        let v = v
            .to_str()
            .map_err(|_| "the server sent a Content-Encoding that is not text".to_string())?;
        names.extend(
            v.split(',')
                .map(|c| c.trim().to_ascii_lowercase())
                .filter(|c| !c.is_empty()),
        );
    }
    match names.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] | ["identity"] => Ok(Coding::Identity),
        ["gzip"] | ["x-gzip"] => Ok(Coding::Gzip),
        _ => Err(format!(
            "the server sent Content-Encoding: {}; accord reads only identity or a single gzip",
            names.join(", ")
        )),
    }
}

/// A reader that fails once more than `limit` bytes have come through it: the bound on the
/// bytes on the wire, before decompression (a gzip body can carry a header or padding that
/// inflates to nothing).
struct Capped<R> {
    inner: R,
    left: u64,
}

/// The error [`Capped`] fails with.
#[derive(Debug, thiserror::Error)]
#[error("the response is larger than it can be")]
struct TooLarge;

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.left = self
            .left
            .checked_sub(n as u64)
            .ok_or_else(|| std::io::Error::other(TooLarge))?;
        Ok(n)
    }
}

impl TileSource for HttpSource {
    fn label(&self) -> String {
        self.shown.clone()
    }
    fn get(&self, path: &str, max: usize) -> Result<Option<Vec<u8>>, RemoteError> {
        let unavailable = |p: String| RemoteError::Unavailable {
            source_label: self.label(),
            path: path.to_string(),
            problem: p,
        };
        let deadline = std::time::Instant::now() + self.timeout;
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .header(reqwest::header::ACCEPT_ENCODING, "gzip")
            .send()
            .map_err(|e| unavailable(describe(e)))?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if status.is_redirection() {
            let to = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .map(|l| redact(&String::from_utf8_lossy(l.as_bytes())));
            return Err(unavailable(match to {
                Some(to) => format!(
                    "the server answered {status}, pointing to {to}; accord does not follow redirects: if you trust that address, give it instead"
                ),
                None => format!("the server answered {status} and accord does not follow redirects"),
            }));
        }
        if status != reqwest::StatusCode::OK {
            return Err(unavailable(format!(
                "the server answered {status}; only 200 OK is a file of the log"
            )));
        }
        read_body(resp, max, deadline, self.timeout)
            .map(Some)
            .map_err(unavailable)
    }
}

/// Reads the whole body of `resp` by `deadline` (each read is bounded by the client's
/// `timeout`, all of them by the deadline, so that a host that trickles a byte at a time cannot
/// hold the client for ever): sent as is (`identity`) or as exactly one gzip member, at most
/// `max` bytes after decompression and not much more on the wire. What went wrong, in a few
/// words, when it cannot be read.
fn read_body(
    resp: reqwest::blocking::Response,
    max: usize,
    deadline: std::time::Instant,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    use std::io::BufRead as _;
    let coding = coding(resp.headers())?;
    // On the wire: the file itself, or its gzip form, which deflate's stored blocks make at
    // most a little larger (5 bytes per 65,535), plus a gzip header (a name, a comment, an
    // extra field).
    let wire = match coding {
        Coding::Identity => max as u64,
        Coding::Gzip => max as u64 + max as u64 / 1024 + 64 * 1024,
    };
    if resp.content_length().is_some_and(|n| n > wire) {
        return Err(format!(
            "the server announces more than the {max} bytes the response can be"
        ));
    }
    let too_large = || format!("the response is larger than the {max} bytes it can be (after decompression)");
    let read_error = |e: std::io::Error| {
        if e.get_ref().is_some_and(|i| i.is::<TooLarge>()) {
            too_large()
        } else {
            describe_read(&e)
        }
    };
    let timed_out = || {
        format!(
            "timed out: the response took longer than {} s",
            timeout.as_secs_f32()
        )
    };
    // One gzip member and nothing after it: a second member or trailing bytes would make
    // clients that read them and clients that do not see different files.
    let wire_reader = std::io::BufReader::new(Capped {
        inner: resp,
        left: wire + 1,
    });
    // The client's timeout bounds each read; the deadline bounds them all, so that a host
    // that trickles a byte at a time cannot hold the client for ever.
    let read_all = |body: &mut dyn Read| -> Result<Vec<u8>, String> {
        let mut v = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            if std::time::Instant::now() > deadline {
                return Err(timed_out());
            }
            let n = body.read(&mut buf).map_err(read_error)?;
            if n == 0 {
                return Ok(v);
            }
            v.extend_from_slice(&buf[..n]);
            if v.len() > max {
                return Err(too_large());
            }
        }
    };
    let mut wire_reader = wire_reader;
    let v = match coding {
        Coding::Identity => read_all(&mut wire_reader)?,
        Coding::Gzip => {
            let mut member = flate2::bufread::GzDecoder::new(wire_reader);
            let v = read_all(&mut member)?;
            let mut rest = member.into_inner();
            let after = rest.fill_buf().map_err(read_error)?;
            if !after.is_empty() {
                return Err(
                        "the gzip body goes on after its first member (a second member or other bytes); accord reads exactly one"
                            .into(),
                    );
            }
            v
        }
    };
    Ok(v)
}

/// A network error in a few words: its kind and its innermost cause.
fn describe(e: reqwest::Error) -> String {
    // The URL is left out: it may carry a user name and password, and the caller names the
    // host ([`redact`]).
    let e = e.without_url();
    let mut cause: &dyn std::error::Error = &e;
    while let Some(c) = cause.source() {
        cause = c;
    }
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    format!("{kind}: {cause}")
}

/// A failure to read a response body in a few words: "timed out" when a read did, and the
/// innermost cause ("error decoding response body" alone would hide a timeout or a reset).
fn describe_read(e: &std::io::Error) -> String {
    let mut timed_out = e.kind() == std::io::ErrorKind::TimedOut;
    let mut cause: &dyn std::error::Error = e;
    loop {
        if let Some(r) = cause.downcast_ref::<reqwest::Error>() {
            timed_out |= r.is_timeout();
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            timed_out |= io.kind() == std::io::ErrorKind::TimedOut;
        }
        match cause.source() {
            Some(c) => cause = c,
            None => break,
        }
    }
    if timed_out {
        format!("timed out reading the response: {cause}")
    } else {
        format!("reading the response: {cause}")
    }
}

/// Fetches and verifies the log's checkpoint with the ledger key (the trust root, from the
/// user, never from the host).
///
/// # Errors
/// [`RemoteError::Unavailable`] when there is none or it cannot be read;
/// [`RemoteError::Invalid`] when it does not verify.
pub fn fetch_checkpoint(
    source: &dyn TileSource,
    vkey: &VerifierKey,
) -> Result<SignedCheckpoint, RemoteError> {
    let note = source
        .get("checkpoint", MAX_NOTE_SIZE)?
        .ok_or_else(|| RemoteError::Unavailable {
            source_label: source.label(),
            path: "checkpoint".into(),
            problem: "not found: is this the URL or directory of a published accord log?".into(),
        })?;
    SignedCheckpoint::open(&note, vkey).map_err(|e| RemoteError::Invalid {
        source_label: source.label(),
        path: "checkpoint".into(),
        problem: format!("{e} (the ledger key given is {vkey})"),
    })
}

/// Fetches a tile at the width the checkpoint gives it, and only there: a partial tile that
/// is missing is not read from the full tile (docs/FORMAT.md section 13.3). A log publishes
/// the partial tiles of the checkpoint it serves; the full tile's hashes or entries beyond the
/// checkpoint's size could not be checked against it, and a reader that used its first `W`
/// would judge a file other readers of the same path see differently.
fn fetch_tile(source: &dyn TileSource, tile: &Tile) -> Result<Vec<u8>, RemoteError> {
    let max = match tile.kind {
        TileKind::Entries => MAX_BUNDLE_BYTES,
        TileKind::Hashes(_) => FULL_TILE_BYTES,
    };
    source.get(&tile.path(), max)?.ok_or_else(|| RemoteError::Unavailable {
        source_label: source.label(),
        path: tile.path(),
        problem: if tile.is_full() {
            "not found".into()
        } else {
            "not found: a published log serves the partial tiles of its checkpoint, and accord does not read the full tile instead".into()
        },
    })
}

/// The root of a full tile's 256 hashes: the hash of the subtree they are the leaves of.
fn full_tile_root(hashes: &[Hash]) -> Hash {
    let mut level: Vec<Hash> = hashes.to_vec();
    while level.len() > 1 {
        level = level.chunks(2).map(|p| node_hash(&p[0], &p[1])).collect();
    }
    level[0]
}

/// The checks of the hash tiles against the entries, as they stream past.
struct TileCheck {
    /// The root of every full level-0 tile so far: what level 1 must hold.
    full_roots: Vec<Hash>,
    /// Whether the tiles above level 0 are checked at the end (they need the roots of every
    /// full level-0 tile, so only a stream from entry 0 can).
    upper: bool,
}

impl TileCheck {
    /// Checks the level-0 hash tile of a bundle against its entries' leaf hashes.
    fn level0(
        &mut self,
        source: &dyn TileSource,
        bundle: &Tile,
        entries: &[&[u8]],
    ) -> Result<(), RemoteError> {
        let tile = Tile {
            kind: TileKind::Hashes(0),
            ..*bundle
        };
        let leaves: Vec<Hash> = entries.iter().map(|e| leaf_hash(e)).collect();
        let got = tiles::decode_hash_tile(&fetch_tile(source, &tile)?, tile.width).map_err(|e| {
            RemoteError::Invalid {
                source_label: source.label(),
                path: tile.path(),
                problem: e.to_string(),
            }
        })?;
        if let Some(k) = got.iter().zip(&leaves).position(|(a, b)| a != b) {
            return Err(RemoteError::Invalid {
                source_label: source.label(),
                path: tile.path(),
                problem: format!(
                    "hash {k} is not the leaf hash of entry {} as its entry bundle serves it",
                    bundle.n * TILE_WIDTH + k as u64
                ),
            });
        }
        if tile.is_full() {
            self.full_roots.push(full_tile_root(&leaves));
        }
        Ok(())
    }

    /// Checks every tile at levels 1 and up against the full tiles below, once all entries
    /// are in.
    fn upper_levels(mut self, source: &dyn TileSource, size: u64) -> Result<(), RemoteError> {
        let all = tiles::tiles_for(size);
        for level in 1..=tiles::MAX_TILE_LEVEL {
            let at: Vec<&Tile> = all.iter().filter(|t| t.kind == TileKind::Hashes(level)).collect();
            if at.is_empty() {
                break;
            }
            let mut next_roots = Vec::new();
            for tile in at {
                let got = tiles::decode_hash_tile(&fetch_tile(source, tile)?, tile.width).map_err(|e| {
                    RemoteError::Invalid {
                        source_label: source.label(),
                        path: tile.path(),
                        problem: e.to_string(),
                    }
                })?;
                let start = usize::try_from(tile.n * TILE_WIDTH).unwrap_or(usize::MAX);
                let want =
                    self.full_roots
                        .get(start..start + got.len())
                        .ok_or_else(|| RemoteError::Invalid {
                            source_label: source.label(),
                            path: tile.path(),
                            problem: "holds more hashes than the tree below it has full tiles".into(),
                        })?;
                if let Some(k) = got.iter().zip(want).position(|(a, b)| a != b) {
                    return Err(RemoteError::Invalid {
                        source_label: source.label(),
                        path: tile.path(),
                        problem: format!("hash {k} is not the root of the full tile below it (tile altered)"),
                    });
                }
                if tile.is_full() {
                    next_roots.push(full_tile_root(&got));
                }
            }
            self.full_roots = next_roots;
        }
        Ok(())
    }
}

/// The entries of a published log as an export stream (the format of [`crate::export`]): a
/// header made from the verified checkpoint, then the entries, bundle by bundle, each bundle's
/// level-0 hash tile checked as it goes, and the upper tiles checked after the last. Whatever
/// reads it (export verification, import) judges the entries; a failure of the host or of its
/// tiles is kept in [`TileStream::failure`], so that the caller reports it for what it is.
pub struct TileStream<'a> {
    source: &'a dyn TileSource,
    size: u64,
    next_bundle: u64,
    buf: Vec<u8>,
    pos: usize,
    check: Option<TileCheck>,
    failure: Arc<Mutex<Option<RemoteError>>>,
}

impl<'a> TileStream<'a> {
    /// A stream of the log at `source` up to its verified checkpoint `cp`.
    pub fn new(source: &'a dyn TileSource, cp: &SignedCheckpoint) -> Self {
        Self::from_bundle(source, cp, 0, &[])
    }

    /// A stream of the entries from entry bundle `first` on (entry `first × 256`): what a
    /// verification resumed from a remembered state reads. Each bundle's level-0 hash tile is
    /// checked as from the start, and the tiles above level 0 at the end against the roots of
    /// every full level-0 tile: `roots`, those of the bundles before `first` (a remembered
    /// state keeps them), then those of the bundles read. Without them (`roots` not one per
    /// bundle before `first`), the tiles above level 0 are not checked.
    pub fn from_bundle(
        source: &'a dyn TileSource,
        cp: &SignedCheckpoint,
        first: u64,
        roots: &[Hash],
    ) -> Self {
        let header = crate::export::ExportHeader {
            origin: cp.checkpoint.origin.to_string(),
            size: cp.checkpoint.size,
            checkpoint: cp.note.clone(),
        };
        let mut buf = Vec::new();
        let header_ok = crate::export::write_header(&mut buf, &header).is_ok();
        let failure = Arc::new(Mutex::new(None));
        if !header_ok {
            *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(RemoteError::Invalid {
                source_label: source.label(),
                path: "checkpoint".into(),
                problem: "cannot be framed as an export header".into(),
            });
        }
        TileStream {
            source,
            size: cp.checkpoint.size,
            next_bundle: first,
            buf,
            pos: 0,
            check: Some(TileCheck {
                full_roots: roots.to_vec(),
                upper: roots.len() as u64 == first,
            }),
            failure,
        }
    }

    /// The failure of the host or of its tiles that stopped the stream, if one did.
    pub fn failure(&self) -> Option<RemoteError> {
        self.failure.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn fail(&self, e: RemoteError) -> std::io::Error {
        let msg = e.to_string();
        *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
        std::io::Error::other(msg)
    }

    /// Fetches the next bundle into the buffer; `Ok(false)` at the end.
    fn refill(&mut self) -> std::io::Result<bool> {
        let bundles = self.size.div_ceil(TILE_WIDTH);
        if self.next_bundle >= bundles {
            if let Some(check) = self.check.take().filter(|c| c.upper) {
                check
                    .upper_levels(self.source, self.size)
                    .map_err(|e| self.fail(e))?;
            }
            return Ok(false);
        }
        let n = self.next_bundle;
        let width = if (n + 1) * TILE_WIDTH <= self.size {
            TILE_WIDTH as u16
        } else {
            (self.size % TILE_WIDTH) as u16
        };
        let tile = Tile {
            kind: TileKind::Entries,
            n,
            width,
        };
        let bytes = fetch_tile(self.source, &tile).map_err(|e| self.fail(e))?;
        let entries = tiles::decode_bundle(&bytes, width).map_err(|e| {
            self.fail(RemoteError::Invalid {
                source_label: self.source.label(),
                path: tile.path(),
                problem: e.to_string(),
            })
        })?;
        if let Some(check) = &mut self.check {
            if let Err(e) = check.level0(self.source, &tile, &entries) {
                return Err(self.fail(e));
            }
        }
        self.buf.clear();
        self.pos = 0;
        for e in entries {
            crate::export::write_entry(&mut self.buf, e).map_err(|e| std::io::Error::other(e.to_string()))?;
        }
        self.next_bundle += 1;
        Ok(true)
    }
}

impl Read for TileStream<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.buf.len() {
            if !self.refill()? {
                return Ok(0);
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// What a host answered to a POST: status, `Content-Type`, and the body (bounded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostAnswer {
    /// The HTTP status code.
    pub status: u16,
    /// The `Content-Type` header, if it is text.
    pub content_type: Option<String>,
    /// The body, at most the `max` asked for.
    pub body: Vec<u8>,
}

/// POSTs `body` to `url` as a client of a host it does not trust (a witness, for
/// [`crate::witnessing`]): no redirect followed (a 3xx is an answer like any other), no
/// compressed body accepted, connecting within `timeout`, the whole answer within `timeout`
/// (a host that trickles bytes is cut off at the deadline), and a body of more than `max` bytes
/// refused. Returns a message in a few words when there is no usable answer.
///
/// # Errors
/// What went wrong, without the URL (which may carry a password: the caller names the host).
pub fn post(
    url: &str,
    body: &[u8],
    content_type: &str,
    timeout: Duration,
    max: usize,
) -> Result<PostAnswer, String> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err("not an http:// or https:// URL".into());
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::blocking::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_gzip()
        .user_agent(concat!("accord/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(describe)?;
    let deadline = std::time::Instant::now() + timeout;
    let resp = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(body.to_vec())
        .send()
        .map_err(describe)?;
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if coding(resp.headers())? != Coding::Identity {
        return Err("the host sent a compressed body; accord reads a witness's answer only as is".into());
    }
    if resp.content_length().is_some_and(|n| n > max as u64) {
        return Err(format!("the host announces an answer larger than {max} bytes"));
    }
    let mut reader = Capped {
        inner: resp,
        left: max as u64 + 1,
    };
    let mut v = Vec::new();
    let mut buf = [0u8; 8 * 1024];
    loop {
        if std::time::Instant::now() > deadline {
            return Err(format!(
                "timed out: the answer took longer than {} s",
                timeout.as_secs_f32()
            ));
        }
        let n = match reader.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.get_ref().is_some_and(|i| i.is::<TooLarge>()) => {
                return Err(format!("the answer is larger than {max} bytes"))
            }
            Err(e) => return Err(describe_read(&e)),
        };
        if n == 0 {
            break;
        }
        v.extend_from_slice(&buf[..n]);
        if v.len() > max {
            return Err(format!("the answer is larger than {max} bytes"));
        }
    }
    Ok(PostAnswer {
        status,
        content_type,
        body: v,
    })
}

/// A source for a location given by a user: an `http(s)://` URL (each request bounded by
/// `timeout`) or a directory.
///
/// # Errors
/// [`RemoteError::Unavailable`] for a URL that cannot be used.
pub fn source_for(location: &str, timeout: Duration) -> Result<Box<dyn TileSource>, RemoteError> {
    if location.starts_with("http://") || location.starts_with("https://") {
        Ok(Box::new(HttpSource::new(location, timeout)?))
    } else {
        Ok(Box::new(DirSource::new(location)))
    }
}

// ---------------------------------------------------------------------------------------------
// Submitting statements to a server that holds the ledger (`accord serve --writable`).

/// The largest answer to a submission the client reads: a few fields and a checkpoint note.
pub const MAX_SUBMIT_ANSWER: usize = MAX_NOTE_SIZE + 16 * 1024;

/// The largest `/api/v1/orgs` the client reads: room for about 80,000 organisations at some 400
/// bytes of JSON each, far beyond any ledger of pledges; a host sending more is refused.
pub const MAX_ORGS_JSON: usize = 32 << 20;

/// The largest other read-API answer the client reads (`/accord/log.json`, one entry).
pub const MAX_API_JSON: usize = 1 << 20;

/// The longest text of a host's answer repeated in a message.
const MAX_QUOTED: usize = 500;

/// A server that takes signed statements (`accord serve --writable`, docs/FORMAT.md §14): what
/// building a statement needs from its read API, and `POST /entries`. Each request is bounded in
/// size and time; redirects are not followed (a submission goes to the server named, or nowhere).
pub struct LedgerServer {
    base: String,
    /// `base` as shown ([`redact`]).
    shown: String,
    client: reqwest::blocking::Client,
    timeout: Duration,
}

/// The fields of one organisation of `/api/v1/orgs` the client reads.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ServerOrg {
    /// The normalised name (`iss`).
    pub org: String,
    /// Hex key ids of its current keys.
    pub current_keys: Vec<String>,
    /// Hex key id of the recovery key it is committed to now, if any.
    #[serde(default)]
    pub recovery_key: Option<String>,
}

/// The fields of `/api/v1/entries/N` the client reads.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ServerEntry {
    /// Its index.
    pub index: u64,
    /// Hex statement id.
    pub statement_id: String,
    /// Its kind (`attestation`, ...).
    pub kind: String,
    /// The organisation (normalised).
    pub org: String,
}

/// The server's receipt for a statement in the ledger (201 appended now, 200 in it before).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Receipt {
    /// Its entry index.
    pub index: u64,
    /// Its statement id (hex).
    pub statement_id: String,
    /// Its kind.
    pub kind: String,
    /// The organisation.
    pub org: String,
    /// Whether it was in the ledger before this submission.
    pub already_in: bool,
    /// The size of the checkpoint below.
    pub tree_size: u64,
    /// The latest signed checkpoint (C2SP note), covering the entry.
    pub checkpoint: String,
}

/// An RFC 9290 problem report from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The HTTP status.
    pub status: u16,
    /// The rule or reason (`name-taken`, `busy`, ...); `unknown` when the host named none.
    pub rule: String,
    /// What happened, in the host's words (shortened).
    pub detail: String,
    /// Seconds to wait before trying again (`Retry-After`), when the host said.
    pub retry_after: Option<u64>,
}

/// What the server did with a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Submission {
    /// It is in the ledger, durable under a signed checkpoint.
    InLedger {
        /// The receipt.
        receipt: Receipt,
        /// The answer as sent.
        json: serde_json::Value,
    },
    /// A registration waiting for the custodian's approval (202).
    Pending {
        /// Its statement id (hex).
        statement_id: String,
        /// The organisation.
        org: String,
        /// The server's explanation.
        detail: String,
        /// The answer as sent.
        json: serde_json::Value,
    },
    /// Refused: by the ledger's rules or the custodian's admission (400, 403), or as a request
    /// (413, 415, 422). Sending the same statement again will not help.
    Refused(Problem),
    /// Not taken now: too many statements from this client (429), or the server is busy or
    /// closing (503). Try again later, after `retry_after`.
    Later(Problem),
}

#[derive(serde::Deserialize)]
struct PendingAnswer {
    status: String,
    statement_id: String,
    org: String,
    #[serde(default)]
    detail: String,
}

#[derive(serde::Deserialize)]
struct ProblemBody {
    #[serde(default)]
    rule: Option<String>,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    title: Option<String>,
}

/// Whether a receipt says what an answer once durable must: its checkpoint is a checkpoint
/// note of the size stated, and that size covers the entry. (Its signature is not checked: the
/// client has no verifier key; `accord verify` and `accord prove` check the ledger itself.)
fn receipt_covers(r: &Receipt) -> Result<(), String> {
    if r.index >= r.tree_size {
        return Err(format!(
            "it puts the statement at index {} under a checkpoint of size {}, which does not cover it",
            r.index, r.tree_size
        ));
    }
    let text = r
        .checkpoint
        .split_once("\n\n")
        .map(|(t, _)| format!("{t}\n"))
        .ok_or("its checkpoint is not a signed note")?;
    let cp = crate::checkpoint::Checkpoint::parse_text(text.as_bytes())
        .map_err(|e| format!("its checkpoint is not one: {e}"))?;
    if cp.size != r.tree_size {
        return Err(format!(
            "its checkpoint is of size {}, not the tree size {} it states",
            cp.size, r.tree_size
        ));
    }
    Ok(())
}

/// Text from a host, cut to [`MAX_QUOTED`] characters.
fn quoted(s: &str) -> String {
    let mut t: String = s.chars().take(MAX_QUOTED).collect();
    if t.len() < s.len() {
        t.push_str("...");
    }
    t
}

impl LedgerServer {
    /// The server at `base` (an `http://` or `https://` URL; a trailing `/` is added), each
    /// request of which may take `timeout` in all.
    ///
    /// # Errors
    /// [`RemoteError::Unavailable`] for a URL of another scheme or a client that cannot be built.
    pub fn new(base: &str, timeout: Duration) -> Result<Self, RemoteError> {
        let bad = |p: String| RemoteError::Unavailable {
            source_label: redact(base),
            path: String::new(),
            problem: p,
        };
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(bad("not an http:// or https:// URL".into()));
        }
        // rustls with the ring provider, as for HttpSource; installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .timeout(timeout)
            // Decoded by read_body, which bounds it.
            .no_gzip()
            .user_agent(concat!("accord/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| bad(describe(e)))?;
        let base = if base.ends_with('/') {
            base.to_string()
        } else {
            format!("{base}/")
        };
        Ok(LedgerServer {
            shown: redact(&base),
            base,
            client,
            timeout,
        })
    }

    /// The server's URL, as messages name it (without a user name or password in it).
    pub fn label(&self) -> &str {
        &self.shown
    }

    fn unavailable(&self, path: &str, problem: String) -> RemoteError {
        RemoteError::Unavailable {
            source_label: self.shown.clone(),
            path: path.to_string(),
            problem,
        }
    }

    /// Sends `req` and reads the whole answer: its status, `Retry-After` (seconds), and at
    /// most `max` bytes of body (after decompression), all within the request's time.
    fn exchange(
        &self,
        path: &str,
        req: reqwest::blocking::RequestBuilder,
        max: usize,
    ) -> Result<(reqwest::StatusCode, Option<u64>, Vec<u8>), RemoteError> {
        let deadline = std::time::Instant::now() + self.timeout;
        let resp = req.send().map_err(|e| self.unavailable(path, describe(e)))?;
        let status = resp.status();
        if status.is_redirection() {
            return Err(self.unavailable(
                path,
                format!("the server answered {status}; redirects are not followed: give the URL the server itself listens at"),
            ));
        }
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let body = read_body(resp, max, deadline, self.timeout).map_err(|p| self.unavailable(path, p))?;
        Ok((status, retry_after, body))
    }

    /// `GET path` of the read API as JSON; `Ok(None)` for 404.
    ///
    /// # Errors
    /// [`RemoteError::Unavailable`] when it cannot be read, is not 200, larger than `max` or
    /// not the JSON expected.
    pub fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        max: usize,
    ) -> Result<Option<T>, RemoteError> {
        let req = self.client.get(format!("{}{path}", self.base));
        let (status, _, body) = self.exchange(path, req, max)?;
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if status != reqwest::StatusCode::OK {
            return Err(self.unavailable(path, format!("the server answered {status}")));
        }
        serde_json::from_slice(&body).map(Some).map_err(|e| {
            self.unavailable(
                path,
                format!("the answer is not what an accord server sends here: {e}"),
            )
        })
    }

    /// The ledger's origin, from `/accord/log.json` (the name statements for it carry).
    ///
    /// # Errors
    /// [`RemoteError::Unavailable`].
    pub fn origin(&self) -> Result<String, RemoteError> {
        #[derive(serde::Deserialize)]
        struct LogInfo {
            origin: String,
        }
        let path = tiles::LOG_INFO_PATH;
        self.get_json::<LogInfo>(path, MAX_API_JSON)?
            .map(|l| l.origin)
            .ok_or_else(|| self.unavailable(path, "not found: is this the URL of an accord server?".into()))
    }

    /// Every organisation the ledger holds (`/api/v1/orgs`).
    ///
    /// # Errors
    /// [`RemoteError::Unavailable`].
    pub fn orgs(&self) -> Result<Vec<ServerOrg>, RemoteError> {
        let path = "api/v1/orgs";
        self.get_json(path, MAX_ORGS_JSON)?
            .ok_or_else(|| self.unavailable(path, "not found: is this the URL of an accord server?".into()))
    }

    /// Entry `index` (`/api/v1/entries/N`); `Ok(None)` when the ledger has no such entry.
    ///
    /// # Errors
    /// [`RemoteError::Unavailable`].
    pub fn entry(&self, index: u64) -> Result<Option<ServerEntry>, RemoteError> {
        let path = format!("api/v1/entries/{index}");
        let e: Option<ServerEntry> = self.get_json(&path, MAX_API_JSON)?;
        match e {
            Some(e) if e.index != index => {
                Err(self.unavailable(&path, format!("the server answered with entry {}", e.index)))
            }
            e => Ok(e),
        }
    }

    /// Submits one signed statement (`POST /entries`, `application/cose`) and says what the
    /// server did with it. An answer about another statement than the one sent is an error.
    ///
    /// # Errors
    /// [`RemoteError::Unavailable`] when the server cannot be reached, fails (5xx but 503),
    /// answers with another status, or answers something that is not an accord server's answer.
    pub fn submit(&self, statement: &[u8]) -> Result<Submission, RemoteError> {
        use sha2::Digest as _;
        let path = "entries";
        let req = self
            .client
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::CONTENT_TYPE, "application/cose")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(statement.to_vec());
        let (status, retry_after, body) = self.exchange(path, req, MAX_SUBMIT_ANSWER)?;
        let garbage = |e: String| {
            self.unavailable(
                path,
                format!(
                    "the server answered {status} with something that is not an accord server's answer: {e}"
                ),
            )
        };
        let ours = hex::encode(sha2::Sha256::digest(statement));
        let check_id = |id: &str| {
            if id == ours {
                Ok(())
            } else {
                Err(garbage(format!(
                    "it is about statement {}, not {ours}, the one sent",
                    quoted(id)
                )))
            }
        };
        let problem = || -> Problem {
            let p: Option<ProblemBody> = serde_json::from_slice(&body).ok();
            let p = p.unwrap_or(ProblemBody {
                rule: None,
                detail: None,
                title: None,
            });
            Problem {
                status: status.as_u16(),
                rule: quoted(p.rule.as_deref().unwrap_or("unknown")),
                detail: quoted(
                    p.detail
                        .as_deref()
                        .or(p.title.as_deref())
                        .unwrap_or(status.canonical_reason().unwrap_or("")),
                ),
                retry_after: retry_after.map(|s| s.min(86_400)),
            }
        };
        match status.as_u16() {
            200 | 201 => {
                let json: serde_json::Value =
                    serde_json::from_slice(&body).map_err(|e| garbage(e.to_string()))?;
                let receipt: Receipt =
                    serde_json::from_value(json.clone()).map_err(|e| garbage(e.to_string()))?;
                check_id(&receipt.statement_id)?;
                receipt_covers(&receipt).map_err(garbage)?;
                Ok(Submission::InLedger { receipt, json })
            }
            202 => {
                let json: serde_json::Value =
                    serde_json::from_slice(&body).map_err(|e| garbage(e.to_string()))?;
                let p: PendingAnswer =
                    serde_json::from_value(json.clone()).map_err(|e| garbage(e.to_string()))?;
                if p.status != "pending" {
                    return Err(garbage(format!("status {:?}", quoted(&p.status))));
                }
                check_id(&p.statement_id)?;
                Ok(Submission::Pending {
                    statement_id: p.statement_id,
                    org: p.org,
                    detail: quoted(&p.detail),
                    json,
                })
            }
            400 | 403 | 409 | 413 | 415 | 422 => Ok(Submission::Refused(problem())),
            429 | 503 => Ok(Submission::Later(problem())),
            404 | 405 => Err(self.unavailable(
                path,
                format!(
                    "the server answered {status}: it takes no statements (is it `accord serve --writable`?)"
                ),
            )),
            _ => {
                let p = problem();
                Err(self.unavailable(
                    path,
                    format!("the server answered {status} ({}): {}", p.rule, p.detail),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_tile_root_is_the_subtree_root() {
        use crate::merkle::Frontier;
        let leaves: Vec<Hash> = (0..256u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut f = Frontier::new();
        for l in &leaves {
            f.push(*l);
        }
        assert_eq!(full_tile_root(&leaves), f.root());
    }
}
