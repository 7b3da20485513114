//! The shared backend for several hosts: PostgreSQL, through tokio-postgres
//! and a deadpool connection pool.
//!
//! Rows live in `islet_kv (ns, k, v)`; byte usage per namespace in
//! `islet_kv_usage` (striped, see `schema_v1.sql`). A conditional write and
//! a batch are one call of a PL/pgSQL function each, so every write is one
//! round trip and one transaction. Commits are synchronous (the session sets
//! `synchronous_commit = on` whatever the server's default), so a write the
//! store acknowledged is on the database's disk and [`KvStore::flush`] has
//! nothing left to do.

mod announce;
mod bridge;
mod schema;

use super::{Batch, Entry, Expect, KvStore, StoreError, WriteError};
pub(super) use bridge::Bridge;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Timeouts};
use std::time::Duration;
use tokio_postgres::error::SqlState;

/// Connections a host keeps to PostgreSQL by default.
pub const DEFAULT_POOL_SIZE: usize = 16;

/// How many times a write is tried again after a deadlock or a
/// serialization failure before it fails.
const RETRIES: usize = 5;

/// A [`KvStore`] on a PostgreSQL database several hosts share.
pub struct PgStore {
    pool: Pool,
    bridge: Bridge,
    /// The announcement channel of this deployment (named after its schema).
    channel: String,
    /// This store's id in announcements (its own are not echoed back).
    origin: String,
    announcements: tokio::sync::broadcast::Sender<super::Announcement>,
}

impl PgStore {
    /// Connect to `url` (`postgres://user:password@host:port/db`), create or
    /// migrate the schema (one host at a time, under an advisory lock) and
    /// keep up to `pool_size` connections.
    pub fn connect(url: &str, pool_size: usize) -> Result<Self, StoreError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError(format!("the store URL is not a PostgreSQL URL: {e}")))?;
        let options = config.get_options().unwrap_or("").to_string();
        config.options(
            format!("{options} -c synchronous_commit=on -c client_min_messages=warning").trim(),
        );
        config.application_name("islet");
        config.connect_timeout(Duration::from_secs(5));
        let target = describe(&config);
        let listener_config = config.clone();
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let timeout = Some(Duration::from_secs(5));
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .timeouts(Timeouts {
                wait: timeout,
                create: timeout,
                recycle: timeout,
            })
            .build()
            .map_err(|e| StoreError(format!("cannot set up the connection pool: {e}")))?;
        let bridge = Bridge::new(2)?;
        let migrating = pool.clone();
        let schema = bridge
            .run(async move { schema::migrate(&migrating).await })
            .map_err(|e| StoreError(format!("{target}: {}", e.0)))?;
        let channel = announce::channel(&schema);
        let origin = hex::encode(rand::random::<[u8; 8]>());
        let announcements = announce::listen(
            bridge.handle(),
            listener_config,
            channel.clone(),
            origin.clone(),
        );
        Ok(PgStore {
            pool,
            bridge,
            channel,
            origin,
            announcements,
        })
    }

    /// Run `work` with a pooled connection, trying again after a deadlock
    /// or serialization failure.
    fn with_client<T, F, Fut>(&self, work: F) -> Result<T, WriteError>
    where
        T: Send + 'static,
        F: Fn(deadpool_postgres::Object) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, tokio_postgres::Error>> + Send,
    {
        let pool = self.pool.clone();
        let outcome = self.bridge.run(async move {
            let mut tries = 0;
            loop {
                let client = pool.get().await.map_err(pool_error)?;
                match work(client).await {
                    Ok(value) => return Ok(Ok(value)),
                    Err(e) => {
                        let code = e.code().cloned();
                        match code {
                            Some(c) if c.code() == "IS409" => {
                                return Ok(Err(WriteError::Conflict));
                            }
                            Some(c) if c.code() == "IS413" => {
                                return Ok(Err(WriteError::QuotaExceeded));
                            }
                            Some(c)
                                if (c == SqlState::T_R_DEADLOCK_DETECTED
                                    || c == SqlState::T_R_SERIALIZATION_FAILURE)
                                    && tries < RETRIES =>
                            {
                                tries += 1;
                            }
                            _ => return Err(db_error(&e)),
                        }
                    }
                }
            }
        });
        match outcome {
            Ok(result) => result,
            Err(e) => Err(WriteError::Store(e)),
        }
    }

    /// A read: like [`PgStore::with_client`] where no write error can occur.
    fn read<T, F, Fut>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(deadpool_postgres::Object) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, tokio_postgres::Error>> + Send,
    {
        match self.with_client(work) {
            Ok(value) => Ok(value),
            Err(WriteError::Store(e)) => Err(e),
            Err(e) => Err(StoreError(e.to_string())),
        }
    }
}

/// `postgres://user@host:port/db` of `config`.
pub(crate) fn describe(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{host}:{port}/{}",
        config.get_user().unwrap_or(""),
        config.get_dbname().unwrap_or("")
    )
}

fn pool_error(e: deadpool_postgres::PoolError) -> StoreError {
    StoreError(format!("cannot reach PostgreSQL: {e}"))
}

fn db_error(e: &tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) => StoreError(format!(
            "PostgreSQL: {} ({})",
            db.message(),
            db.code().code()
        )),
        None => StoreError(format!("PostgreSQL: {e}")),
    }
}

/// A stripe of the usage counters for a write without a quota.
fn stripe() -> i16 {
    1 + (rand::random::<u8>() % 15) as i16
}

/// The smallest byte string above every key starting with `prefix`
/// (`None` when there is none: an empty or all-`0xff` prefix).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

impl KvStore for PgStore {
    fn get(&self, namespace: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let (ns, key) = (namespace.to_owned(), key.to_vec());
        self.read(move |client| {
            let (ns, key) = (ns.clone(), key.clone());
            async move {
                let sql = "SELECT v FROM islet_kv WHERE ns = $1 AND k = $2";
                let statement = client.prepare_cached(sql).await?;
                let row = client.query_opt(&statement, &[&ns, &key]).await?;
                row.map(|r| r.try_get::<_, Vec<u8>>(0)).transpose()
            }
        })
    }

    fn scan(
        &self,
        namespace: &str,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let ns = namespace.to_owned();
        let (lower, inclusive) = match after {
            Some(a) if a >= prefix => (a.to_vec(), false),
            _ => (prefix.to_vec(), true),
        };
        let upper = prefix_end(prefix);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |client| {
            let (ns, lower, upper) = (ns.clone(), lower.clone(), upper.clone());
            async move {
                let op = if inclusive { ">=" } else { ">" };
                let rows = match &upper {
                    Some(upper) => {
                        let sql = format!(
                            "SELECT k, v FROM islet_kv WHERE ns = $1 AND k {op} $2 AND k < $3 \
                             ORDER BY k LIMIT $4"
                        );
                        let statement = client.prepare_cached(&sql).await?;
                        client
                            .query(&statement, &[&ns, &lower, upper, &limit])
                            .await?
                    }
                    None => {
                        let sql = format!(
                            "SELECT k, v FROM islet_kv WHERE ns = $1 AND k {op} $2 \
                             ORDER BY k LIMIT $3"
                        );
                        let statement = client.prepare_cached(&sql).await?;
                        client.query(&statement, &[&ns, &lower, &limit]).await?
                    }
                };
                rows.iter()
                    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                    .collect()
            }
        })
    }

    fn write(
        &self,
        namespace: &str,
        key: &[u8],
        expect: Expect,
        value: Option<&[u8]>,
        quota: Option<u64>,
    ) -> Result<(), WriteError> {
        let ns = namespace.to_owned();
        let key = key.to_vec();
        let (check, expected) = match expect {
            Expect::Anything => (false, None),
            Expect::Value(v) => (true, v),
        };
        let value = value.map(<[u8]>::to_vec);
        let quota = quota.map(|q| i64::try_from(q).unwrap_or(i64::MAX));
        let stripe = stripe();
        self.with_client(move |client| {
            let (ns, key, expected, value) =
                (ns.clone(), key.clone(), expected.clone(), value.clone());
            async move {
                let sql = "SELECT islet_kv_write($1, $2, $3, $4, $5, $6, $7)";
                let statement = client.prepare_cached(sql).await?;
                client
                    .execute(
                        &statement,
                        &[&ns, &key, &check, &expected, &value, &quota, &stripe],
                    )
                    .await
                    .map(|_| ())
            }
        })
    }

    fn commit(&self, namespace: &str, batch: &Batch) -> Result<(), WriteError> {
        let ns = namespace.to_owned();
        let (expect_keys, expect_values): (Vec<Vec<u8>>, Vec<Option<Vec<u8>>>) =
            batch.expects.iter().cloned().unzip();
        let (keys, values): (Vec<Vec<u8>>, Vec<Option<Vec<u8>>>) =
            batch.writes.iter().cloned().unzip();
        let stripe = stripe();
        self.with_client(move |client| {
            let ns = ns.clone();
            let (expect_keys, expect_values) = (expect_keys.clone(), expect_values.clone());
            let (keys, values) = (keys.clone(), values.clone());
            async move {
                let sql = "SELECT islet_kv_commit($1, $2, $3, $4, $5, $6)";
                let statement = client.prepare_cached(sql).await?;
                client
                    .execute(
                        &statement,
                        &[&ns, &expect_keys, &expect_values, &keys, &values, &stripe],
                    )
                    .await
                    .map(|_| ())
            }
        })
    }

    fn usage(&self, namespace: &str) -> Result<u64, StoreError> {
        let ns = namespace.to_owned();
        let bytes: i64 = self.read(move |client| {
            let ns = ns.clone();
            async move {
                let sql =
                    "SELECT coalesce(sum(bytes), 0)::bigint FROM islet_kv_usage WHERE ns = $1";
                let statement = client.prepare_cached(sql).await?;
                client.query_one(&statement, &[&ns]).await?.try_get(0)
            }
        })?;
        Ok(u64::try_from(bytes).unwrap_or(0))
    }

    fn namespaces(&self) -> Result<Vec<String>, StoreError> {
        self.read(|client| async move {
            let sql = "SELECT DISTINCT ns FROM islet_kv ORDER BY ns";
            let rows = client.query(sql, &[]).await?;
            rows.iter().map(|r| r.try_get(0)).collect()
        })
    }

    fn flush(&self) -> Result<(), StoreError> {
        // Every acknowledged write was a synchronous commit.
        Ok(())
    }

    fn announce(&self, topic: &str, note: &str) -> Result<(), StoreError> {
        if note.len() > super::MAX_NOTE {
            return Err(StoreError(format!(
                "an announcement note is at most {} bytes",
                super::MAX_NOTE
            )));
        }
        let channel = self.channel.clone();
        let payload = announce::payload(&self.origin, topic, note);
        self.read(move |client| {
            let (channel, payload) = (channel.clone(), payload.clone());
            async move {
                let statement = client.prepare_cached("SELECT pg_notify($1, $2)").await?;
                client
                    .execute(&statement, &[&channel, &payload])
                    .await
                    .map(|_| ())
            }
        })
    }

    fn announcements(&self) -> Option<tokio::sync::broadcast::Receiver<super::Announcement>> {
        Some(self.announcements.subscribe())
    }
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn a_prefix_ends_above_all_its_keys() {
        assert_eq!(prefix_end(b"p/"), Some(b"p0".to_vec()));
        assert_eq!(prefix_end(&[b'a', 0xff]), Some(b"b".to_vec()));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
        assert_eq!(prefix_end(b""), None);
    }
}
