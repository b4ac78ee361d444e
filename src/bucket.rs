//! Publishing to object storage: a bucket reached over the S3 protocol (Amazon S3 and the
//! stores that speak it: MinIO, Ceph, Cloudflare R2, moto...), as a [`crate::publish::Target`]
//! (docs/FORMAT.md section 13.6). The publishing algorithm is [`crate::publish::publish`], unchanged;
//! this module only stores objects.
//!
//! What a directory gets from rename and fsync, a bucket gets from the store itself: an object
//! appears whole or not at all, and is durable once its PUT is acknowledged. So:
//!
//! * tiles are written once, with `If-None-Match: *` (a tile already there, from a publication
//!   killed earlier or one racing this one, must hold the same bytes, or the bucket holds
//!   another tree: refused);
//! * [`Target::sync`] waits until every object put so far is acknowledged (they are uploaded a
//!   few at a time, in the background), and the checkpoint is put only after that;
//! * the checkpoint is replaced conditionally, `If-Match` the ETag it had when this publication
//!   read it (or `If-None-Match: *` when there was none), so that two publications racing can
//!   never roll it back: the slower one fails and changes nothing.
//!
//! The connection (credentials, region, endpoint) comes from the environment, the variables
//! [`Connection::from_env`] names and nothing else. The secret key is kept in the store client
//! only and never printed: a [`BucketTarget`]'s `Debug` shows its label alone.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder, S3ConditionalPut};
use object_store::path::Path as Key;
use object_store::{
    Attribute, AttributeValue, Attributes, BackoffConfig, ClientOptions, GetOptions, ObjectStore,
    ObjectStoreExt as _, PutMode, PutOptions, PutPayload, RetryConfig, UpdateVersion,
};

use crate::publish::{FileKind, PublishError, Target};
use crate::tiles;

/// The scheme of a bucket destination: `s3://BUCKET[/PREFIX]`.
pub const SCHEME: &str = "s3://";
/// Uploads in flight at once: enough to hide a store's latency, few enough to bound memory
/// (each holds one tile or entry bundle, at most [`tiles::MAX_BUNDLE_BYTES`]).
const IN_FLIGHT: usize = 16;
/// Longest prefix accepted (S3 keys are at most 1,024 bytes; the longest tile path is short).
const MAX_PREFIX: usize = 512;
/// Default time one request may take, body included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A canned ACL (`x-amz-acl`) put on every object a publication writes. Off by default: many
/// buckets refuse ACLs (S3 Object Ownership "bucket owner enforced", the default for new
/// buckets since 2023) and are made public by a bucket policy or a CDN instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CannedAcl {
    /// `private`.
    Private,
    /// `public-read`: anyone may read the objects (what a public log wants, where allowed).
    PublicRead,
    /// `authenticated-read`.
    AuthenticatedRead,
    /// `bucket-owner-read`.
    BucketOwnerRead,
    /// `bucket-owner-full-control`.
    BucketOwnerFullControl,
}

impl CannedAcl {
    /// Every canned ACL, as S3 spells them.
    pub const ALL: [CannedAcl; 5] = [
        CannedAcl::Private,
        CannedAcl::PublicRead,
        CannedAcl::AuthenticatedRead,
        CannedAcl::BucketOwnerRead,
        CannedAcl::BucketOwnerFullControl,
    ];

    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            CannedAcl::Private => "private",
            CannedAcl::PublicRead => "public-read",
            CannedAcl::AuthenticatedRead => "authenticated-read",
            CannedAcl::BucketOwnerRead => "bucket-owner-read",
            CannedAcl::BucketOwnerFullControl => "bucket-owner-full-control",
        }
    }

    /// The canned ACL spelled `s`, if it is one of [`CannedAcl::ALL`].
    pub fn parse(s: &str) -> Option<CannedAcl> {
        CannedAcl::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// A place in a bucket: `s3://BUCKET[/PREFIX]`, checked (S3's bucket naming rules; a prefix of
/// plain path segments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketUrl {
    bucket: String,
    /// Empty, or segments joined by `/`, without a trailing `/`.
    prefix: String,
}

impl BucketUrl {
    /// Parses `s3://BUCKET[/PREFIX][/]`.
    ///
    /// # Errors
    /// What is wrong with it, in words.
    pub fn parse(s: &str) -> Result<BucketUrl, String> {
        let rest = s
            .strip_prefix(SCHEME)
            .ok_or_else(|| format!("not an {SCHEME} URL"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        // S3's rules for bucket names (virtual-hosted style, the strictest).
        let b = bucket.as_bytes();
        let ok = (3..=63).contains(&b.len())
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b".-".contains(c))
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && !bucket.contains("..");
        if !ok {
            return Err(format!(
                "{bucket:?} is not a bucket name (3 to 63 lowercase letters, digits, dots and hyphens, beginning and ending with a letter or digit)"
            ));
        }
        let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
        let ok = prefix.is_empty() || (prefix.len() <= MAX_PREFIX && crate::publish::plain_segments(prefix));
        if !ok {
            return Err(format!(
                "{prefix:?} is not a prefix accord publishes to (path segments of letters, digits, '-', '.' and '_', at most {MAX_PREFIX} bytes)"
            ));
        }
        Ok(BucketUrl {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The prefix inside it (empty for the bucket's root), without a trailing `/`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The key of the file at `path` below the prefix.
    fn key(&self, path: &str) -> String {
        if self.prefix.is_empty() {
            path.to_string()
        } else {
            format!("{}/{path}", self.prefix)
        }
    }
}

impl std::fmt::Display for BucketUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{SCHEME}{}", self.bucket)?;
        if !self.prefix.is_empty() {
            write!(f, "/{}", self.prefix)?;
        }
        Ok(())
    }
}

/// A secret that neither `Debug` nor `Display` prints.
struct Secret(zeroize::Zeroizing<String>);

/// How to reach the store: credentials, region, endpoint. Holds the secret key: no `Debug`.
pub struct Connection {
    access_key_id: String,
    secret_access_key: Secret,
    session_token: Option<Secret>,
    region: String,
    endpoint: Option<String>,
    allow_http: bool,
}

/// The variables [`Connection::from_env`] reads, and what each is for (for `--help` and the
/// manual page).
pub const ENVIRONMENT: [(&str, &str); 7] = [
    ("AWS_ACCESS_KEY_ID", "The access key id (required)."),
    ("AWS_SECRET_ACCESS_KEY", "The secret access key (required; never printed)."),
    ("AWS_SESSION_TOKEN", "A session token, with temporary credentials (optional)."),
    ("AWS_REGION", "The bucket's region (else AWS_DEFAULT_REGION, else us-east-1)."),
    ("AWS_DEFAULT_REGION", "The region, when AWS_REGION is not set."),
    (
        "AWS_ENDPOINT_URL",
        "The store's endpoint, for an S3-compatible store (AWS_ENDPOINT_URL_S3 first, if set); default Amazon S3. https://, or http:// on a loopback address.",
    ),
    (
        "AWS_ALLOW_HTTP",
        "true: allow an http:// endpoint that is not on a loopback address (credentials and objects travel unencrypted).",
    ),
];

impl Connection {
    /// The connection the environment describes: exactly the variables of [`ENVIRONMENT`] (and
    /// `AWS_ENDPOINT_URL_S3`); no profile file, no instance metadata.
    ///
    /// # Errors
    /// A missing credential, or an endpoint that is not a URL accord will send them to.
    pub fn from_env() -> Result<Connection, String> {
        Connection::from_lookup(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// [`Connection::from_env`] with the variables read through `var`.
    ///
    /// # Errors
    /// As [`Connection::from_env`].
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Connection, String> {
        let missing = |name: &str| {
            format!("{name} is not set: publishing to a bucket takes its credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (see accord publish --help)")
        };
        let access_key_id = var("AWS_ACCESS_KEY_ID").ok_or_else(|| missing("AWS_ACCESS_KEY_ID"))?;
        let secret = var("AWS_SECRET_ACCESS_KEY").ok_or_else(|| missing("AWS_SECRET_ACCESS_KEY"))?;
        let region = var("AWS_REGION")
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".to_string());
        let allow_any_http = var("AWS_ALLOW_HTTP").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let endpoint = match var("AWS_ENDPOINT_URL_S3").or_else(|| var("AWS_ENDPOINT_URL")) {
            None => None,
            Some(e) => {
                let e = e.trim_end_matches('/').to_string();
                let host = if let Some(rest) = e.strip_prefix("https://") {
                    Some(rest)
                } else {
                    e.strip_prefix("http://")
                };
                let Some(authority) = host.filter(|h| !h.is_empty() && !h.contains(['/', '?', '#', '@']))
                else {
                    return Err(format!(
                        "AWS_ENDPOINT_URL {e:?} is not an endpoint: http(s)://HOST[:PORT], without a path"
                    ));
                };
                if e.starts_with("http://") && !allow_any_http && !is_loopback(authority) {
                    return Err(format!(
                        "AWS_ENDPOINT_URL {e:?} is plain http on a host that is not this machine: credentials would travel unencrypted (use https://, or set AWS_ALLOW_HTTP=true if you mean it)"
                    ));
                }
                Some(e)
            }
        };
        let allow_http = endpoint.as_deref().is_some_and(|e| e.starts_with("http://"));
        Ok(Connection {
            access_key_id,
            secret_access_key: Secret(secret.into()),
            session_token: var("AWS_SESSION_TOKEN").map(|t| Secret(t.into())),
            region,
            endpoint,
            allow_http,
        })
    }

    /// The endpoint requests go to (None: Amazon S3 in the region).
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// The region.
    pub fn region(&self) -> &str {
        &self.region
    }
}

/// Whether an endpoint's `host[:port]` names this machine.
fn is_loopback(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Choices for a bucket target beyond the connection.
#[derive(Debug, Clone)]
pub struct BucketOptions {
    /// A canned ACL put on every object written (`--s3-acl`, `ACCORD_S3_ACL`).
    pub acl: Option<CannedAcl>,
    /// Time one request may take, body included.
    pub timeout: Duration,
}

impl Default for BucketOptions {
    fn default() -> Self {
        BucketOptions {
            acl: None,
            timeout: REQUEST_TIMEOUT,
        }
    }
}

/// What this publication saw of the checkpoint, for its conditional replacement.
#[derive(Clone)]
enum Seen {
    /// Not read yet.
    Unread,
    /// There was none.
    Absent,
    /// There was one, with this version.
    Version(UpdateVersion),
}

/// An upload started in the background.
type Upload = tokio::task::JoinHandle<Result<(), PublishError>>;

/// A bucket (and prefix) to publish to, over the S3 protocol.
pub struct BucketTarget {
    url: BucketUrl,
    /// Reads: no ACL header.
    reader: Arc<AmazonS3>,
    /// Writes: with the ACL header when asked for.
    writer: Arc<AmazonS3>,
    /// Runs the store's requests; shut down in the background on drop.
    runtime: Option<tokio::runtime::Runtime>,
    /// Uploads may start while a permit is free.
    slots: Arc<tokio::sync::Semaphore>,
    /// Uploads started and not yet waited for.
    pending: Mutex<Vec<Upload>>,
    /// The checkpoint as this publication read it.
    seen: Mutex<Seen>,
    /// The tiles in the bucket and their sizes, listed once per publication (a listing is one
    /// request per directory; a HEAD per tile would be one per tile), kept up to date by this
    /// publication's own puts.
    listing: Mutex<Option<std::collections::HashMap<String, u64>>>,
}

impl std::fmt::Debug for BucketTarget {
    // Never the clients: their configuration holds the secret key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketTarget")
            .field("url", &self.url.to_string())
            .finish_non_exhaustive()
    }
}

impl Drop for BucketTarget {
    fn drop(&mut self) {
        // Dropping a runtime waits for its tasks, which must not happen inside another
        // runtime (serve): leave them to finish or be dropped in the background.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl BucketTarget {
    /// The bucket place `url`, reached with `conn`.
    ///
    /// # Errors
    /// [`PublishError::Io`] when the client cannot be made.
    pub fn new(
        url: BucketUrl,
        conn: &Connection,
        options: &BucketOptions,
    ) -> Result<BucketTarget, PublishError> {
        let label = url.to_string();
        let io = |problem: String| PublishError::Io {
            target: label.clone(),
            path: "client".to_string(),
            problem,
        };
        // TLS through rustls with the ring provider (as `remote`): none is compiled in by default.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = |acl: Option<CannedAcl>| -> Result<AmazonS3, PublishError> {
            let mut client_options = ClientOptions::new()
                .with_timeout(options.timeout)
                .with_connect_timeout(Duration::from_secs(10).min(options.timeout))
                .with_allow_http(conn.allow_http);
            if let Some(acl) = acl {
                let mut headers = object_store::HeaderMap::new();
                headers.insert("x-amz-acl", object_store::HeaderValue::from_static(acl.as_str()));
                // Sent (and signed) with every request of this client: it only writes.
                client_options = client_options.with_default_headers(headers);
            }
            let mut b = AmazonS3Builder::new()
                .with_bucket_name(&url.bucket)
                .with_region(&conn.region)
                .with_access_key_id(&conn.access_key_id)
                .with_secret_access_key(conn.secret_access_key.0.as_str())
                .with_conditional_put(S3ConditionalPut::ETagMatch)
                .with_virtual_hosted_style_request(false)
                .with_allow_http(conn.allow_http)
                .with_client_options(client_options)
                .with_retry(RetryConfig {
                    // A few quick retries (a store's 503 Slow Down, a reset connection); a store
                    // that is down is reported within seconds, not minutes.
                    backoff: BackoffConfig {
                        init_backoff: Duration::from_millis(100),
                        max_backoff: Duration::from_secs(2),
                        base: 2.0,
                    },
                    max_retries: 3,
                    retry_timeout: options.timeout,
                });
            if let Some(t) = &conn.session_token {
                b = b.with_token(t.0.as_str());
            }
            if let Some(e) = &conn.endpoint {
                b = b.with_endpoint(e);
            }
            b.build().map_err(|e| io(e.to_string()))
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("accord-bucket")
            .enable_all()
            .build()
            .map_err(|e| io(e.to_string()))?;
        Ok(BucketTarget {
            reader: Arc::new(client(None)?),
            writer: Arc::new(client(options.acl)?),
            url,
            runtime: Some(runtime),
            slots: Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT)),
            pending: Mutex::new(Vec::new()),
            seen: Mutex::new(Seen::Unread),
            listing: Mutex::new(None),
        })
    }

    fn io(&self, path: &str, problem: impl std::fmt::Display) -> PublishError {
        PublishError::Io {
            target: self.url.to_string(),
            path: path.to_string(),
            problem: problem.to_string(),
        }
    }

    /// Runs `f` to completion on the target's runtime. The target blocks: from async code,
    /// call it on a blocking thread (`tokio::task::spawn_blocking`).
    fn block_on<T>(
        &self,
        path: &str,
        f: impl std::future::Future<Output = Result<T, PublishError>>,
    ) -> Result<T, PublishError> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(self.io(
                path,
                "a bucket target blocks: call it from a blocking thread (tokio::task::spawn_blocking), not from async code",
            ));
        }
        match &self.runtime {
            Some(rt) => rt.block_on(f),
            None => Err(self.io(path, "the target is closed")),
        }
    }

    fn key(&self, path: &str) -> Result<Key, PublishError> {
        Key::parse(self.url.key(path)).map_err(|e| self.io(path, e))
    }

    /// Every object below the directory `under` of the layout, with its size, as paths
    /// relative to the target: a listing per directory level (`list_with_delimiter`, which
    /// follows the store's pages).
    fn list_sizes(&self, under: &str) -> Result<Vec<(String, u64)>, PublishError> {
        let root = self.url.key("");
        let start = self.key(under)?;
        self.block_on(under, async {
            let mut out = Vec::new();
            let mut todo = vec![start];
            while let Some(dir) = todo.pop() {
                let r = self
                    .reader
                    .list_with_delimiter(Some(&dir))
                    .await
                    .map_err(|e| self.io(under, explain(&e)))?;
                for m in r.objects {
                    let full = m.location.to_string();
                    if let Some(rel) = full.strip_prefix(root.as_str()) {
                        out.push((rel.to_string(), m.size));
                    }
                }
                todo.extend(r.common_prefixes);
            }
            Ok(out)
        })
    }

    /// Waits for every upload started, and returns the first error any of them met.
    fn wait_all(&self) -> Result<(), PublishError> {
        let tasks = std::mem::take(
            &mut *self
                .pending
                .lock()
                .map_err(|_| self.io("uploads", "lock poisoned"))?,
        );
        self.join(tasks)
    }

    /// Collects the uploads that have finished; if one failed, waits for the others and
    /// returns its error, so that a publication stops at the first failure instead of sending
    /// every tile to a store that refuses them.
    fn check_failed(&self) -> Result<(), PublishError> {
        let done = {
            let mut pending = self
                .pending
                .lock()
                .map_err(|_| self.io("uploads", "lock poisoned"))?;
            let (done, running) = std::mem::take(&mut *pending)
                .into_iter()
                .partition(|t| t.is_finished());
            *pending = running;
            done
        };
        self.join(done).inspect_err(|_| {
            let _ = self.wait_all();
        })
    }

    /// Waits for `tasks`, all of them, and returns the first error.
    fn join(&self, tasks: Vec<Upload>) -> Result<(), PublishError> {
        let mut first = None;
        for t in tasks {
            let r = self
                .block_on("uploads", async { t.await.map_err(|e| self.io("uploads", e)) })
                .and_then(|r| r);
            if let Err(e) = r {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

/// Metadata of an object of kind `kind` (C2SP tlog-tiles, docs/FORMAT.md section 13.1).
fn attributes(kind: FileKind) -> Attributes {
    Attributes::from_iter([
        (Attribute::ContentType, AttributeValue::from(kind.content_type())),
        (
            Attribute::CacheControl,
            AttributeValue::from(kind.cache_control()),
        ),
    ])
}

/// What an object store error means to the person publishing, in one line: the store's own
/// words are kept, the likely causes named.
fn explain(e: &object_store::Error) -> String {
    let text = e.to_string();
    let hint = if text.contains("NoSuchBucket") {
        "the bucket does not exist (create it first)"
    } else if text.contains("InvalidAccessKeyId")
        || text.contains("SignatureDoesNotMatch")
        || text.contains("AccessDenied")
        || text.contains("403")
    {
        "the store refused the credentials or the request (check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, and that they may read and write this bucket)"
    } else if text.contains("AccessControlListNotSupported") {
        "the bucket does not accept ACLs: publish without --s3-acl and make it readable with a bucket policy or a CDN"
    } else if text.contains("error sending request")
        || text.contains("connect")
        || text.contains("timed out")
        || text.contains("Timeout")
    {
        "the store could not be reached (check AWS_ENDPOINT_URL and the network)"
    } else {
        ""
    };
    let text = shorten(&text);
    if hint.is_empty() {
        text
    } else {
        format!("{hint}: {text}")
    }
}

/// An error's text with the store's XML error body, if any, reduced to its code and message
/// (the rest is request ids).
fn shorten(text: &str) -> String {
    let Some(at) = text.find("<?xml") else {
        return text.to_string();
    };
    let element = |name: &str| {
        let open = format!("<{name}>");
        let from = text[at..].find(&open)? + at + open.len();
        let len = text[from..].find(&format!("</{name}>"))?;
        Some(text[from..from + len].to_string())
    };
    let head = text[..at].trim_end().trim_end_matches(':');
    match (element("Code"), element("Message")) {
        (Some(code), Some(message)) => format!("{head}: {code}: {message}"),
        (Some(code), None) => format!("{head}: {code}"),
        _ => head.to_string(),
    }
}

/// Reads the object `key` up to `max` bytes (more is an error): its bytes and version, or None.
async fn read(store: &AmazonS3, key: &Key, max: usize) -> Result<Option<(Vec<u8>, UpdateVersion)>, String> {
    let r = match store.get_opts(key, GetOptions::default()).await {
        Ok(r) => r,
        Err(e @ object_store::Error::NotFound { .. }) => {
            // A missing bucket answers 404 too: not an empty target.
            let text = e.to_string();
            if text.contains("NoSuchBucket") {
                return Err(explain(&e));
            }
            return Ok(None);
        }
        Err(e) => return Err(explain(&e)),
    };
    if r.meta.size > max as u64 {
        return Err(format!("larger than {max} bytes ({})", r.meta.size));
    }
    let version = UpdateVersion {
        e_tag: r.meta.e_tag.clone(),
        version: r.meta.version.clone(),
    };
    let bytes = r.bytes().await.map_err(|e| explain(&e))?;
    if bytes.len() > max {
        return Err(format!("larger than {max} bytes"));
    }
    Ok(Some((bytes.to_vec(), version)))
}

/// Puts one immutable tile: created if absent; if present, it must hold the same bytes.
async fn put_tile(
    writer: &AmazonS3,
    reader: &AmazonS3,
    label: &str,
    path: &str,
    key: &Key,
    bytes: PutPayload,
) -> Result<(), PublishError> {
    let io = |problem: String| PublishError::Io {
        target: label.to_string(),
        path: path.to_string(),
        problem,
    };
    let opts = PutOptions {
        mode: PutMode::Create,
        attributes: attributes(FileKind::Tile),
        ..Default::default()
    };
    match writer.put_opts(key, bytes.clone(), opts).await {
        Ok(_) => Ok(()),
        Err(object_store::Error::AlreadyExists { .. }) => {
            // A publication killed after this tile, or one racing this one: the same bytes,
            // or another tree's tile is there.
            let old = read(reader, key, tiles::MAX_BUNDLE_BYTES).await.map_err(io)?;
            let same = old.is_some_and(|(old, _)| {
                old.len() == bytes.content_length() && bytes.iter().flat_map(|c| c.iter()).eq(old.iter())
            });
            if same {
                Ok(())
            } else {
                Err(PublishError::Conflict {
                    target: label.to_string(),
                    problem: format!(
                        "{path} already holds other bytes: an immutable tile of another tree is there"
                    ),
                })
            }
        }
        Err(e) => Err(io(explain(&e))),
    }
}

impl Target for BucketTarget {
    fn label(&self) -> String {
        self.url.to_string()
    }

    /// A bucket has no lock: two publications may run at once, and the conditional
    /// replacement of the checkpoint keeps the slower from rolling it back. Nothing is ever
    /// half-written (an object appears whole or not at all), so there is nothing to clear.
    fn begin(&self) -> Result<(), PublishError> {
        // Uploads an earlier publication of this target left running when it failed: waited
        // for, so that none runs beside this one, and their result dropped (that publication
        // failed already; this one puts every tile it needs again).
        let _ = self.wait_all();
        *self
            .seen
            .lock()
            .map_err(|_| self.io("uploads", "lock poisoned"))? = Seen::Unread;
        *self
            .listing
            .lock()
            .map_err(|_| self.io("tile", "lock poisoned"))? = None;
        Ok(())
    }

    fn size(&self, path: &str) -> Result<Option<u64>, PublishError> {
        if FileKind::of(path) != FileKind::Tile {
            let key = self.key(path)?;
            return self.block_on(path, async {
                match self.reader.head(&key).await {
                    Ok(m) => Ok(Some(m.size)),
                    Err(object_store::Error::NotFound { .. }) => Ok(None),
                    Err(e) => Err(self.io(path, explain(&e))),
                }
            });
        }
        let mut listing = self.listing.lock().map_err(|_| self.io(path, "lock poisoned"))?;
        if listing.is_none() {
            let found = self.list_sizes("tile")?;
            *listing = Some(found.into_iter().collect());
        }
        Ok(listing.as_ref().and_then(|l| l.get(path).copied()))
    }

    fn list(&self, under: &str) -> Result<Vec<String>, PublishError> {
        let mut out: Vec<String> = self.list_sizes(under)?.into_iter().map(|(p, _)| p).collect();
        out.sort();
        Ok(out)
    }

    fn get(&self, path: &str, max: usize) -> Result<Option<Vec<u8>>, PublishError> {
        let key = self.key(path)?;
        let got = self.block_on(path, async {
            read(&self.reader, &key, max).await.map_err(|e| self.io(path, e))
        })?;
        if FileKind::of(path) == FileKind::Checkpoint {
            *self.seen.lock().map_err(|_| self.io(path, "lock poisoned"))? = match &got {
                None => Seen::Absent,
                Some((_, v)) => Seen::Version(v.clone()),
            };
        }
        Ok(got.map(|(b, _)| b))
    }

    fn put(&self, path: &str, bytes: &[u8], kind: FileKind) -> Result<(), PublishError> {
        let key = self.key(path)?;
        let payload = PutPayload::from(bytes.to_vec());
        match kind {
            FileKind::Checkpoint => {
                // Last, and only once every object put before it is stored.
                self.wait_all()?;
                let seen = self
                    .seen
                    .lock()
                    .map_err(|_| self.io(path, "lock poisoned"))?
                    .clone();
                let mode = match seen {
                    Seen::Unread => return Err(self.io(path, "replaced without having been read first")),
                    Seen::Absent => PutMode::Create,
                    Seen::Version(v) if v.e_tag.is_some() => PutMode::Update(v),
                    Seen::Version(_) => return Err(self.io(
                        path,
                        "the store gave no ETag for the checkpoint, so it cannot be replaced conditionally",
                    )),
                };
                let opts = PutOptions {
                    mode,
                    attributes: attributes(kind),
                    ..Default::default()
                };
                let r = self.block_on(path, async {
                    match self.writer.put_opts(&key, payload, opts).await {
                        Ok(r) => Ok(r),
                        Err(
                            object_store::Error::Precondition { .. }
                            | object_store::Error::AlreadyExists { .. },
                        ) => Err(PublishError::Busy {
                            target: self.label(),
                            lock: "the checkpoint, which another publication replaced after this one read it: nothing was rolled back".to_string(),
                        }),
                        Err(e) => Err(self.io(path, explain(&e))),
                    }
                })?;
                *self.seen.lock().map_err(|_| self.io(path, "lock poisoned"))? =
                    Seen::Version(UpdateVersion {
                        e_tag: r.e_tag,
                        version: r.version,
                    });
                Ok(())
            }
            FileKind::Json => self.block_on(path, async {
                let opts = PutOptions {
                    mode: PutMode::Overwrite,
                    attributes: attributes(kind),
                    ..Default::default()
                };
                self.writer
                    .put_opts(&key, payload, opts)
                    .await
                    .map(|_| ())
                    .map_err(|e| self.io(path, explain(&e)))
            }),
            FileKind::Tile => {
                self.check_failed()?;
                if let Some(m) = self.listing.lock().ok().as_mut().and_then(|l| l.as_mut()) {
                    m.insert(path.to_string(), bytes.len() as u64);
                }
                let runtime = self
                    .runtime
                    .as_ref()
                    .ok_or_else(|| self.io(path, "the target is closed"))?;
                let slots = self.slots.clone();
                let permit = self.block_on(path, async {
                    slots.acquire_owned().await.map_err(|e| self.io(path, e))
                })?;
                let (writer, reader) = (self.writer.clone(), self.reader.clone());
                let (label, path) = (self.label(), path.to_string());
                let task = runtime.spawn(async move {
                    let _permit = permit;
                    put_tile(&writer, &reader, &label, &path, &key, payload).await
                });
                self.pending
                    .lock()
                    .map_err(|_| self.io("uploads", "lock poisoned"))?
                    .push(task);
                Ok(())
            }
        }
    }

    fn sync(&self) -> Result<(), PublishError> {
        self.wait_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_urls_are_checked() {
        let u = BucketUrl::parse("s3://pledges/logs/v1/").unwrap();
        assert_eq!((u.bucket(), u.prefix()), ("pledges", "logs/v1"));
        assert_eq!(u.to_string(), "s3://pledges/logs/v1");
        assert_eq!(u.key("checkpoint"), "logs/v1/checkpoint");
        let root = BucketUrl::parse("s3://my.bucket-1").unwrap();
        assert_eq!(
            (root.prefix(), root.key("tile/0/000")),
            ("", "tile/0/000".to_string())
        );
        assert_eq!(BucketUrl::parse("s3://my.bucket-1/").unwrap(), root);
        for bad in [
            "s3://",
            "s3://ab",
            "s3://Upper",
            "s3://-x-",
            "s3://a..b",
            "s3://under_score",
            "s3://bucket//x",
            "s3://bucket/a/../b",
            "s3://bucket/./a",
            "s3://bucket/a b",
            "s3://bucket/a?x",
            "http://bucket/x",
            "s3:/bucket",
        ] {
            assert!(BucketUrl::parse(bad).is_err(), "{bad}");
        }
        assert!(BucketUrl::parse(&format!("s3://b{}", "c".repeat(63))).is_err());
        assert!(BucketUrl::parse(&format!("s3://b{}", "c".repeat(62))).is_ok());
        assert!(BucketUrl::parse(&format!("s3://bkt/{}", "p".repeat(MAX_PREFIX + 1))).is_err());
    }

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn the_connection_comes_from_the_named_variables_only() {
        let keys = [("AWS_ACCESS_KEY_ID", "AKID"), ("AWS_SECRET_ACCESS_KEY", "s3cr3t")];
        let c = Connection::from_lookup(env(&keys)).unwrap();
        assert_eq!(
            (c.region(), c.endpoint(), c.allow_http),
            ("us-east-1", None, false)
        );
        for (name, e) in [
            ("AWS_ACCESS_KEY_ID", &keys[1..]),
            ("AWS_SECRET_ACCESS_KEY", &keys[..1]),
        ] {
            let err = Connection::from_lookup(env(e)).err().unwrap();
            assert!(err.contains(name) && !err.contains("s3cr3t"), "{err}");
        }
        let with = |more: &[(&'static str, &'static str)]| {
            let mut v = keys.to_vec();
            v.extend_from_slice(more);
            Connection::from_lookup(env(&v))
        };
        let c = with(&[("AWS_DEFAULT_REGION", "eu-west-3")]).unwrap();
        assert_eq!(c.region(), "eu-west-3");
        let c = with(&[("AWS_DEFAULT_REGION", "eu-west-3"), ("AWS_REGION", "eu-north-1")]).unwrap();
        assert_eq!(c.region(), "eu-north-1");
        // Plain http only to this machine, unless asked for.
        for ok in [
            "http://127.0.0.1:9000",
            "http://localhost:9000/",
            "http://[::1]:9000",
            "https://s3.example.net",
        ] {
            let c = with(&[("AWS_ENDPOINT_URL", ok)]).unwrap();
            assert_eq!(c.endpoint(), Some(ok.trim_end_matches('/')));
            assert_eq!(c.allow_http, ok.starts_with("http:"));
        }
        let e = with(&[("AWS_ENDPOINT_URL", "http://s3.example.net")])
            .err()
            .unwrap();
        assert!(e.contains("unencrypted"), "{e}");
        assert!(with(&[
            ("AWS_ENDPOINT_URL", "http://s3.example.net"),
            ("AWS_ALLOW_HTTP", "true")
        ])
        .is_ok());
        for bad in [
            "s3.example.net",
            "ftp://x",
            "https://",
            "https://x/path",
            "https://u@x",
        ] {
            assert!(with(&[("AWS_ENDPOINT_URL", bad)]).is_err(), "{bad}");
        }
        // The S3-specific variable wins, as in the AWS SDKs.
        let c = with(&[
            ("AWS_ENDPOINT_URL", "https://a.example"),
            ("AWS_ENDPOINT_URL_S3", "https://b.example"),
        ])
        .unwrap();
        assert_eq!(c.endpoint(), Some("https://b.example"));
    }

    #[test]
    fn a_store_error_keeps_its_code_and_message_only() {
        let t = "Object at location x/checkpoint not found: Error performing GET http://h/b/x/checkpoint in 12ms - Server returned non-2xx status code: 404 Not Found: <?xml version=\"1.0\"?>\\n<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><RequestId>r</RequestId></Error>";
        assert_eq!(
            shorten(t),
            "Object at location x/checkpoint not found: Error performing GET http://h/b/x/checkpoint in 12ms - Server returned non-2xx status code: 404 Not Found: NoSuchBucket: The specified bucket does not exist"
        );
        assert_eq!(shorten("connection refused"), "connection refused");
    }

    #[test]
    fn canned_acls_round_trip_and_the_target_prints_no_secret() {
        for a in CannedAcl::ALL {
            assert_eq!(CannedAcl::parse(a.as_str()), Some(a));
        }
        assert_eq!(CannedAcl::parse("public"), None);
        let c = Connection::from_lookup(env(&[
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "s3cr3t-never-printed"),
        ]))
        .unwrap();
        let t = BucketTarget::new(
            BucketUrl::parse("s3://bkt/p").unwrap(),
            &c,
            &BucketOptions::default(),
        )
        .unwrap();
        let shown = format!("{t:?}");
        assert!(
            shown.contains("s3://bkt/p") && !shown.contains("s3cr3t"),
            "{shown}"
        );
    }
}
