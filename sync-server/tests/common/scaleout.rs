//! The scale-out backend's services for tests: a real PostgreSQL and a real Garage, started
//! by `scripts/test` (scripts/postgres-local, scripts/garage-local), reached through
//! `CASEBOOK_SYNC_TEST_POSTGRES_URL` and `CASEBOOK_SYNC_TEST_S3_*`. Each call of [`fresh`]
//! makes a new database and a new key prefix, so tests never see each other's data.

use casebook_sync::config::{ObjectStoreConfig, PostgresConfig};

fn var(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

/// The S3 settings of the running Garage (without a prefix).
pub fn object_store_from_env() -> Option<ObjectStoreConfig> {
    Some(ObjectStoreConfig {
        endpoint: Some(var("CASEBOOK_SYNC_TEST_S3_ENDPOINT")?),
        bucket: var("CASEBOOK_SYNC_TEST_S3_BUCKET")?,
        region: var("CASEBOOK_SYNC_TEST_S3_REGION")?,
        prefix: None,
        access_key_id: Some(var("CASEBOOK_SYNC_TEST_S3_KEY_ID")?),
        secret_access_key: Some(var("CASEBOOK_SYNC_TEST_S3_SECRET")?),
        country: Some("GB".into()),
        place: Some("London".into()),
    })
}

/// Settings for a new, empty database and a new key prefix; `None` (with a note) when the
/// services are not running outside the full suite, a failure inside it.
pub async fn fresh() -> Option<(PostgresConfig, ObjectStoreConfig)> {
    let (Some(base), Some(mut os)) = (
        var("CASEBOOK_SYNC_TEST_POSTGRES_URL"),
        object_store_from_env(),
    ) else {
        assert!(
            var("CASEBOOK_FULL_TESTS").is_none(),
            "PostgreSQL and Garage are not running: scripts/test starts them"
        );
        eprintln!("skipped: PostgreSQL + Garage not running (run scripts/test)");
        return None;
    };
    let db = format!("t_{}", uuid::Uuid::new_v4().simple());
    let (client, conn) =
        tokio_postgres::connect(&format!("{base}/postgres"), tokio_postgres::NoTls)
            .await
            .expect("connect to the test PostgreSQL");
    let task = tokio::spawn(conn);
    client
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await
        .expect("create a test database");
    drop(client);
    let _ = task.await;
    os.prefix = Some(db.clone());
    Some((
        PostgresConfig {
            url: format!("{base}/{db}"),
            country: Some("GB".into()),
            region: None,
            place: Some("London".into()),
            pool_size: 8,
        },
        os,
    ))
}

/// A TOML file for `casebook-sync serve --config` with the scale-out settings (secrets
/// included: it lives in a test's temporary folder).
pub fn write_config(path: &std::path::Path, pg: &PostgresConfig, os: &ObjectStoreConfig) {
    let q = |v: &Option<String>| format!("{:?}", v.clone().unwrap_or_default());
    std::fs::write(
        path,
        format!(
            "[postgres]\nurl = {:?}\ncountry = \"GB\"\npool_size = {}\n\n[object_store]\nendpoint = {}\nbucket = {:?}\nregion = {:?}\nprefix = {}\naccess_key_id = {}\nsecret_access_key = {}\ncountry = \"GB\"\n",
            pg.url,
            pg.pool_size,
            q(&os.endpoint),
            os.bucket,
            os.region,
            q(&os.prefix),
            q(&os.access_key_id),
            q(&os.secret_access_key),
        ),
    )
    .unwrap();
}
