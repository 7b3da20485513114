//! The host's key-value store, behind a small trait so that the embedded sled
//! backend can be swapped for a networked one without touching capabilities.
//!
//! A store holds named namespaces (one per plugin, plus the host's own); each
//! namespace tracks the bytes it holds so quotas can be enforced atomically
//! with the write that would exceed them.

#[cfg(test)]
pub(crate) mod conformance;
mod disk_space;
pub mod lease;
mod paging;
mod postgres;
pub mod scratch;
mod sled_store;

pub use disk_space::DEFAULT_MIN_FREE_BYTES;
pub use paging::{page, walk};
pub use postgres::{DEFAULT_POOL_SIZE, PgStore};

/// Most bytes of an announcement's note.
pub const MAX_NOTE: usize = 4000;
pub use sled_store::SledStore;

/// Where a host keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// The embedded sled database in a folder.
    Sled {
        /// The folder.
        path: std::path::PathBuf,
        /// Free space on its disk under which writes are refused.
        min_free_bytes: u64,
    },
    /// A PostgreSQL database several hosts share.
    Postgres {
        /// `postgres://user:password@host:port/database`.
        url: String,
        /// Connections to keep.
        pool_size: usize,
    },
}

impl StoreLocation {
    /// Where `url` points: `postgres://` or `postgresql://` is PostgreSQL,
    /// anything else is refused; `None` is sled in `data_dir`/db.
    pub fn from_url(
        url: Option<&str>,
        data_dir: &std::path::Path,
        pool_size: usize,
    ) -> Result<Self, StoreError> {
        let Some(url) = url else {
            return Ok(StoreLocation::sled(data_dir.join("db")));
        };
        if let Some(folder) = url.strip_prefix("sled:") {
            return Ok(StoreLocation::sled(folder.into()));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(StoreLocation::Postgres {
                url: url.to_string(),
                pool_size,
            });
        }
        Err(StoreError(
            "the store URL must start with postgres:// (or be sled:FOLDER)".into(),
        ))
    }

    /// sled in `path`, keeping [`DEFAULT_MIN_FREE_BYTES`] free.
    pub fn sled(path: std::path::PathBuf) -> Self {
        StoreLocation::Sled {
            path,
            min_free_bytes: DEFAULT_MIN_FREE_BYTES,
        }
    }

    /// Open the store.
    pub fn open(&self) -> Result<std::sync::Arc<dyn KvStore>, StoreError> {
        Ok(match self {
            StoreLocation::Sled {
                path,
                min_free_bytes,
            } => std::sync::Arc::new(SledStore::open(path)?.with_min_free(*min_free_bytes)),
            StoreLocation::Postgres { url, pool_size } => {
                std::sync::Arc::new(PgStore::connect(url, *pool_size)?)
            }
        })
    }

    /// Where it is, for people (never a password).
    pub fn describe(&self) -> String {
        match self {
            StoreLocation::Sled { path, .. } => format!("sled in {}", path.display()),
            StoreLocation::Postgres { url, .. } => match url.parse::<tokio_postgres::Config>() {
                Ok(c) => postgres::describe(&c),
                Err(_) => "postgres (unparsable URL)".into(),
            },
        }
    }
}

/// A failure of the backend itself (I/O, corruption); retrying may help.
#[derive(Debug, thiserror::Error)]
#[error("store unavailable: {0}")]
pub struct StoreError(pub String);

/// What a conditional write expects to find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Write whatever is there.
    Anything,
    /// Write only if the current value is exactly this (`None` = absent).
    Value(Option<Vec<u8>>),
}

/// Why a write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The current value was not the expected one.
    #[error("the current value differs from the expected one")]
    Conflict,
    /// The write would take the namespace over its quota.
    #[error("the namespace's quota would be exceeded")]
    QuotaExceeded,
    /// The backend failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Several writes to one namespace that happen together or not at all,
/// each guarded by what the batch expects to find.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    /// Keys and the value each must hold (`None` = absent) for the batch to
    /// apply.
    pub expects: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// Keys and their new values (`None` deletes).
    pub writes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Batch::default()
    }

    /// Apply only if `key` holds `expected` (`None` = absent).
    pub fn expect(mut self, key: impl Into<Vec<u8>>, expected: Option<Vec<u8>>) -> Self {
        self.expects.push((key.into(), expected));
        self
    }

    /// Set `key` to `value`.
    pub fn put(mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Self {
        self.writes.push((key.into(), Some(value.into())));
        self
    }

    /// Remove `key`.
    pub fn delete(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.writes.push((key.into(), None));
        self
    }
}

/// A short notice one host sends the other hosts sharing its store
/// ("plugin X changed", "a message for citizen Y").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// What changed: `registry`, `inbox`, ... or [`RESYNC`].
    pub topic: String,
    /// Which one (a plugin id, a message key), at most a few KiB.
    pub note: String,
}

/// The topic of the announcement a store sends its listeners after a gap
/// (its connection was lost): whatever they follow, they should reconcile.
pub const RESYNC: &str = "*resync";

/// One entry returned by a scan.
pub type Entry = (Vec<u8>, Vec<u8>);

/// The store a host runs on. Implementations must make `write` atomic:
/// the check of `expect`, the quota check and the write happen as one step.
pub trait KvStore: Send + Sync + 'static {
    /// The value under `key` in `namespace`.
    fn get(&self, namespace: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Up to `limit` entries whose keys start with `prefix`, in ascending key
    /// order, strictly after `after` when given.
    fn scan(
        &self,
        namespace: &str,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError>;

    /// Set (`Some`) or delete (`None`) `key` if `expect` holds, keeping the
    /// namespace at or below `quota` bytes (keys plus values) when given.
    /// A write that shrinks usage is always allowed.
    fn write(
        &self,
        namespace: &str,
        key: &[u8],
        expect: Expect,
        value: Option<&[u8]>,
        quota: Option<u64>,
    ) -> Result<(), WriteError>;

    /// Apply `batch` to `namespace` atomically: every expectation is
    /// checked and every write made as one step, or nothing changes
    /// ([`WriteError::Conflict`] when an expectation fails). No quota.
    fn commit(&self, namespace: &str, batch: &Batch) -> Result<(), WriteError>;

    /// Bytes (keys plus values) held by `namespace`.
    fn usage(&self, namespace: &str) -> Result<u64, StoreError>;

    /// The namespaces that hold at least one key, in ascending order.
    fn namespaces(&self) -> Result<Vec<String>, StoreError>;

    /// Make every completed write durable.
    fn flush(&self) -> Result<(), StoreError>;

    /// Tell the other hosts sharing this store that `topic` changed
    /// (`note` says what). A store that only one host uses has nobody to
    /// tell.
    fn announce(&self, topic: &str, note: &str) -> Result<(), StoreError> {
        let _ = (topic, note);
        Ok(())
    }

    /// The announcements of the other hosts sharing this store, from now
    /// on; `None` when no other host can share it.
    fn announcements(&self) -> Option<tokio::sync::broadcast::Receiver<Announcement>> {
        None
    }
}
