//! Where `accord publish` (and a server publishing after its commits) writes a log: a directory
//! ([`DirTarget`]) or a bucket (`s3://BUCKET[/PREFIX]`, [`BucketTarget`]), chosen from the
//! destination as the user typed it.

use std::ffi::OsStr;
use std::path::PathBuf;

use crate::bucket::{self, BucketOptions, BucketTarget, BucketUrl, Connection};
use crate::publish::{DirTarget, PublishError, Target};

/// A destination, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A directory on this machine.
    Dir(PathBuf),
    /// A place in a bucket, over the S3 protocol.
    Bucket(BucketUrl),
}

impl Destination {
    /// `s3://BUCKET[/PREFIX]` is a bucket; any other URL (`SCHEME://...`) is refused, so that a
    /// mistyped URL never becomes a directory of that name; anything else is a directory.
    ///
    /// # Errors
    /// [`PublishError::Io`] for a URL that is not a bucket accord publishes to.
    pub fn parse(dest: &OsStr) -> Result<Destination, PublishError> {
        let Some(s) = dest.to_str() else {
            return Ok(Destination::Dir(PathBuf::from(dest)));
        };
        let refuse = |problem: String| PublishError::Io {
            target: s.to_string(),
            path: "destination".to_string(),
            problem,
        };
        if s.starts_with(bucket::SCHEME) {
            return BucketUrl::parse(s).map(Destination::Bucket).map_err(refuse);
        }
        match s.split_once("://") {
            Some((scheme, _)) if !scheme.is_empty() && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+.-".contains(&b)) => Err(refuse(format!(
                "{scheme}:// is not a destination accord publishes to: a directory, or s3://BUCKET[/PREFIX] (to put a log on a web server, publish into the directory it serves)"
            ))),
            _ => Ok(Destination::Dir(PathBuf::from(dest))),
        }
    }

    /// The target this destination names. A bucket is reached with the connection the
    /// environment describes ([`Connection::from_env`]).
    ///
    /// # Errors
    /// [`PublishError::Io`]: missing credentials, a bad endpoint, a client that cannot be made.
    pub fn open(&self, options: &BucketOptions) -> Result<Box<dyn Target + Send + Sync>, PublishError> {
        match self {
            Destination::Dir(d) => Ok(Box::new(DirTarget::new(d))),
            Destination::Bucket(url) => {
                let conn = Connection::from_env().map_err(|problem| PublishError::Io {
                    target: url.to_string(),
                    path: "environment".to_string(),
                    problem,
                })?;
                Ok(Box::new(BucketTarget::new(url.clone(), &conn, options)?))
            }
        }
    }
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Dir(d) => write!(f, "{}", d.display()),
            Destination::Bucket(u) => write!(f, "{u}"),
        }
    }
}

/// The target `dest` names (a directory, or `s3://BUCKET[/PREFIX]`), for
/// [`crate::publish::publish`], or a server's publisher thread. A bucket target blocks on its
/// own runtime: from async code, use it on a blocking thread.
///
/// # Errors
/// As [`Destination::parse`] and [`Destination::open`].
pub fn target_for(
    dest: impl AsRef<OsStr>,
    options: &BucketOptions,
) -> Result<Box<dyn Target + Send + Sync>, PublishError> {
    Destination::parse(dest.as_ref())?.open(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_are_a_directory_a_bucket_or_refused() {
        let d = |s: &str| Destination::parse(OsStr::new(s));
        assert_eq!(d("pub").unwrap(), Destination::Dir("pub".into()));
        assert_eq!(
            d("/var/www/a:b").unwrap(),
            Destination::Dir("/var/www/a:b".into())
        );
        assert_eq!(d("./x://y").unwrap(), Destination::Dir("./x://y".into()));
        let b = d("s3://pledges/log").unwrap();
        assert_eq!(b.to_string(), "s3://pledges/log");
        assert!(matches!(b, Destination::Bucket(_)));
        for bad in [
            "s3://No",
            "gs://bucket/x",
            "https://example.net/log/",
            "file:///tmp/x",
        ] {
            assert!(d(bad).is_err(), "{bad}");
        }
    }
}
