//! Scratch schemas for tests: every test that needs PostgreSQL gets an empty
//! schema of its own in the test database, so tests run in parallel and a
//! run never sees another's rows.

use super::StoreError;
use super::postgres::Bridge;

/// The variable naming the test database.
pub const TEST_URL_VAR: &str = "ISLET_TEST_PG_URL";

/// The test database's URL, from `ISLET_TEST_PG_URL`; an error saying how
/// to get one when it is not set.
pub fn test_url() -> Result<String, StoreError> {
    std::env::var(TEST_URL_VAR).map_err(|_| {
        StoreError(format!(
            "{TEST_URL_VAR} is not set: these tests need PostgreSQL. Run them with \
             ./scripts/test (it starts PostgreSQL and sets it), or start a server \
             (Debian: apt-get install postgresql; pg_ctlcluster 15 main start) and set \
             {TEST_URL_VAR}=postgres://USER:PASSWORD@127.0.0.1:5432/DB"
        ))
    })
}

/// Create a new empty schema in the database at `base` and return a URL
/// whose connections use it (`options=-c search_path=...`).
pub fn schema_url(base: &str, label: &str) -> Result<String, StoreError> {
    let schema = format!(
        "t_{}_{}_{}",
        label.replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
        std::process::id(),
        hex::encode(rand::random::<[u8; 6]>())
    );
    let config: tokio_postgres::Config = base
        .parse()
        .map_err(|e| StoreError(format!("{TEST_URL_VAR} is not a PostgreSQL URL: {e}")))?;
    let sql = format!("CREATE SCHEMA {schema}");
    Bridge::new(1)?.run(async move {
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(|e| StoreError(format!("cannot reach the test database: {e}")))?;
        tokio::spawn(connection);
        client
            .batch_execute(&sql)
            .await
            .map_err(|e| StoreError(format!("cannot create a test schema: {e}")))
    })?;
    let separator = if base.contains('?') { '&' } else { '?' };
    Ok(format!(
        "{base}{separator}options=-c%20search_path%3D{schema}"
    ))
}
