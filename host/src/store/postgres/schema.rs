//! Creating and migrating the schema at start, safely when several hosts
//! start at once: the whole migration runs in one transaction holding an
//! advisory lock, and each applied version is recorded in `islet_schema`.

use super::super::StoreError;
use super::{db_error, pool_error};
use deadpool_postgres::Pool;

/// The migrations, in order; the version of each is its position plus one.
/// Never edit one that has shipped: add the next.
const MIGRATIONS: &[&str] = &[include_str!("schema_v1.sql")];

/// The advisory lock key every host takes while migrating ("islet" + 1).
const MIGRATION_LOCK: i64 = 0x6973_6c65_7401;

/// The schema version this build expects.
pub const VERSION: i32 = MIGRATIONS.len() as i32;

/// Bring the database to [`VERSION`]; refuse a database a newer build has
/// migrated past it. Returns the schema the tables live in.
pub(super) async fn migrate(pool: &Pool) -> Result<String, StoreError> {
    let mut client = pool.get().await.map_err(pool_error)?;
    let tx = client.transaction().await.map_err(|e| db_error(&e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(|e| db_error(&e))?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS islet_schema (
             version int PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .await
    .map_err(|e| db_error(&e))?;
    let current: i32 = tx
        .query_one("SELECT coalesce(max(version), 0) FROM islet_schema", &[])
        .await
        .and_then(|row| row.try_get(0))
        .map_err(|e| db_error(&e))?;
    if current > VERSION {
        return Err(StoreError(format!(
            "the database is at schema version {current}, newer than this build's {VERSION}: \
             upgrade this host"
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = index as i32 + 1;
        tx.batch_execute(sql)
            .await
            .map_err(|e| StoreError(format!("migration {version}: {}", db_error(&e).0)))?;
        tx.execute(
            "INSERT INTO islet_schema (version) VALUES ($1)",
            &[&version],
        )
        .await
        .map_err(|e| db_error(&e))?;
        tracing::info!(version, "store schema migrated");
    }
    let schema: String = tx
        .query_one("SELECT current_schema()::text", &[])
        .await
        .and_then(|row| row.try_get(0))
        .map_err(|e| db_error(&e))?;
    tx.commit().await.map_err(|e| db_error(&e))?;
    Ok(schema)
}
