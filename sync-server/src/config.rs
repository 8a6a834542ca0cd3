//! Server settings: a TOML file (`--config`), environment overrides, command-line flags.

use std::net::SocketAddr;
use std::path::PathBuf;

use casebook_wire::Location;
use serde::Deserialize;

use crate::residency;

/// Who may open an account.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SignUpPolicy {
    Open,
    Invite,
}

/// Everything the server is told.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Folder for the embedded backend (SQLite metadata + blob files).
    pub data: Option<PathBuf>,
    /// ISO country of the data folder: must be in the UK or the EU/EEA.
    pub country: Option<String>,
    /// Town or data centre, for the description shown to users (e.g. "London").
    pub place: Option<String>,
    #[serde(default = "default_sign_up")]
    pub sign_up: SignUpPolicy,
    /// Every account must turn on TOTP before it can store data.
    #[serde(default)]
    pub totp_required: bool,
    #[serde(default = "default_quota")]
    pub quota_bytes: u64,
    #[serde(default = "default_max_blob")]
    pub max_blob_bytes: u64,
    /// PEM certificate chain for built-in TLS (with `tls_key`); omit behind a TLS proxy.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for built-in TLS.
    pub tls_key: Option<PathBuf>,
    /// Reverse proxies whose `X-Forwarded-For` is believed (e.g. `["127.0.0.1"]` behind
    /// nginx on the same host). From any other peer the header is ignored.
    #[serde(default)]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The clients run on this machine (a trial, tests): allows listening on loopback over
    /// plain HTTP with no `trusted_proxies`. Without it the server refuses to start so,
    /// since behind a local proxy every client would look like 127.0.0.1 (one shared
    /// rate-limit key, no per-address limits). See [`Config::check_proxy_setup`].
    #[serde(default)]
    pub local_only: bool,
    /// Bytes of request and reply bodies held in memory at once, server-wide (uploads,
    /// ranges being built); see [`crate::budget`]. Default 256 MiB.
    #[serde(default = "default_memory_budget")]
    pub memory_budget_bytes: u64,
    /// Scale-out backend, metadata: PostgreSQL (with `object_store`, instead of `data`).
    pub postgres: Option<PostgresConfig>,
    /// Scale-out backend, blob bytes: an S3-compatible bucket (with `postgres`).
    pub object_store: Option<ObjectStoreConfig>,
    /// Passkey (WebAuthn) sign-in; off unless set.
    pub passkeys: Option<PasskeyConfig>,
}

/// `[passkeys]`: the WebAuthn relying party. A passkey is bound to `rp_id`, so it must be
/// the domain people reach the server by (and stay so: changing it orphans every passkey).
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct PasskeyConfig {
    /// The domain, e.g. `sync.example.co.uk` (`localhost` for a trial on one machine).
    pub rp_id: String,
    /// The origin the ceremonies run in, e.g. `https://sync.example.co.uk`.
    pub origin: String,
    /// Shown by the authenticator ("Casebook sync").
    #[serde(default = "default_rp_name")]
    pub rp_name: String,
}

fn default_rp_name() -> String {
    "Casebook sync".into()
}

/// `[postgres]`: where the metadata of the scale-out backend lives.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct PostgresConfig {
    /// `postgres://user:password@host:port/database` (or `CASEBOOK_SYNC_POSTGRES_URL`).
    #[serde(default)]
    pub url: String,
    /// ISO country of the database server (UK or EU/EEA only).
    pub country: Option<String>,
    /// Provider region, if any (e.g. `eu-west-2`); a known region fixes the country.
    pub region: Option<String>,
    /// Town or data centre, for people.
    pub place: Option<String>,
    /// Connections kept open by this instance.
    #[serde(default = "default_pool")]
    pub pool_size: usize,
}

/// `[object_store]`: the S3-compatible bucket holding blob bytes (Garage, AWS S3, …).
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct ObjectStoreConfig {
    /// e.g. `https://s3.eu-west-2.amazonaws.com` or `http://127.0.0.1:3900` for a local
    /// Garage; omit for AWS itself.
    pub endpoint: Option<String>,
    pub bucket: String,
    /// The S3 region name the service expects (Garage's `s3_region`, e.g. `garage`).
    pub region: String,
    /// Keys under this prefix only (several servers or tests can share a bucket).
    pub prefix: Option<String>,
    /// Access key (or `CASEBOOK_SYNC_S3_ACCESS_KEY_ID`).
    pub access_key_id: Option<String>,
    /// Secret key (or `CASEBOOK_SYNC_S3_SECRET_ACCESS_KEY`); better in the environment.
    pub secret_access_key: Option<String>,
    /// ISO country of the bucket (needed when `region` is not a known provider region).
    pub country: Option<String>,
    /// Town or data centre, for people.
    pub place: Option<String>,
}

fn default_pool() -> usize {
    16
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8787))
}
fn default_sign_up() -> SignUpPolicy {
    SignUpPolicy::Open
}
fn default_quota() -> u64 {
    2 * 1024 * 1024 * 1024
}
fn default_max_blob() -> u64 {
    32 * 1024 * 1024
}
fn default_memory_budget() -> u64 {
    256 * 1024 * 1024
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: default_listen(),
            data: None,
            country: None,
            place: None,
            sign_up: default_sign_up(),
            totp_required: false,
            quota_bytes: default_quota(),
            max_blob_bytes: default_max_blob(),
            tls_cert: None,
            tls_key: None,
            trusted_proxies: Vec::new(),
            local_only: false,
            memory_budget_bytes: default_memory_budget(),
            postgres: None,
            object_store: None,
            passkeys: None,
        }
    }
}

impl Config {
    /// The embedded backend in `data`, answering only on loopback, its storage in London:
    /// what the clients' tests and benchmarks run in process (with [`crate::start_on_loopback`]).
    pub fn local(data: &std::path::Path) -> Config {
        Config {
            data: Some(data.to_path_buf()),
            country: Some("GB".into()),
            place: Some("London".into()),
            local_only: true,
            ..Default::default()
        }
    }

    /// Reads a TOML file.
    pub fn from_file(path: &std::path::Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{} is not a valid configuration: {e}", path.display()))
    }

    /// Reads secrets and the database address from the environment over the file.
    pub fn apply_env(&mut self) {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if let Some(url) = var("CASEBOOK_SYNC_POSTGRES_URL") {
            self.postgres.get_or_insert_with(Default::default).url = url;
        }
        if let Some(os) = self.object_store.as_mut() {
            if let Some(k) = var("CASEBOOK_SYNC_S3_ACCESS_KEY_ID") {
                os.access_key_id = Some(k);
            }
            if let Some(k) = var("CASEBOOK_SYNC_S3_SECRET_ACCESS_KEY") {
                os.secret_access_key = Some(k);
            }
        }
    }

    /// Refuses a setup in which every client would look like the same address: listening on
    /// loopback over plain HTTP (so a local TLS proxy is expected in front) with no
    /// `trusted_proxies`, unless `local_only` says the clients really are on this machine.
    /// The error is one line naming the settings.
    pub fn check_proxy_setup(&self) -> Result<(), String> {
        let plain_http = self.tls_cert.is_none() && self.tls_key.is_none();
        if self.listen.ip().is_loopback()
            && plain_http
            && self.trusted_proxies.is_empty()
            && !self.local_only
        {
            return Err(format!(
                "listen = {} is a loopback address over plain HTTP, so clients must come through a local proxy, but trusted_proxies is empty: every client would share one address for rate limiting. Set trusted_proxies (e.g. --trusted-proxy 127.0.0.1, with the proxy sending X-Forwarded-For), or local_only = true (--local-only) if the clients run on this machine",
                self.listen
            ));
        }
        if self.memory_budget_bytes < crate::budget::MIN_BYTES {
            return Err(format!(
                "memory_budget_bytes = {} is too small: at least {} (1 MiB)",
                self.memory_budget_bytes,
                crate::budget::MIN_BYTES
            ));
        }
        Ok(())
    }

    /// Checks every storage location is declared and in the UK or EU/EEA, and describes them.
    /// The error is one line naming the offending setting.
    pub fn locations(&self) -> Result<Vec<Location>, String> {
        match (&self.data, &self.postgres, &self.object_store) {
            (Some(_), None, None) => self.embedded_locations(),
            (None, Some(pg), Some(os)) => {
                if pg.url.is_empty() {
                    return Err(
                        "postgres.url is not set (or CASEBOOK_SYNC_POSTGRES_URL)".into(),
                    );
                }
                Ok(vec![
                    location(
                        "metadata",
                        residency::check_location("postgres", pg.country.as_deref(), pg.region.as_deref())?,
                        pg.region.as_deref(),
                        pg.place.as_deref(),
                    ),
                    location(
                        "blobs",
                        object_store_location(os)?,
                        Some(&os.region),
                        os.place.as_deref(),
                    ),
                ])
            }
            (None, None, None) => {
                Err("data is not set: give the data folder with --data DIR (or [postgres] and [object_store] in --config)".into())
            }
            (Some(_), _, _) => Err(
                "data is set together with [postgres]/[object_store]: choose one backend".into(),
            ),
            (None, Some(_), None) => {
                Err("object_store is not set: the PostgreSQL backend keeps blob bytes in an S3-compatible bucket".into())
            }
            (None, None, Some(_)) => {
                Err("postgres is not set: the object-store backend keeps metadata in PostgreSQL".into())
            }
        }
    }

    fn embedded_locations(&self) -> Result<Vec<Location>, String> {
        let checked = residency::check_country("country", self.country.as_deref())?;
        let l = location("metadata", checked, None, self.place.as_deref());
        Ok(vec![
            l.clone(),
            Location {
                role: "blobs".into(),
                ..l
            },
        ])
    }
}

/// Where the bucket is. Without an `endpoint` the bucket is on AWS itself, so the region must
/// be one whose country is known; with an endpoint the region name may mean nothing (many
/// S3-compatible services ignore it), so the country must be declared.
fn object_store_location(os: &ObjectStoreConfig) -> Result<residency::Checked, String> {
    if os.endpoint.is_none() && residency::region(&os.region).is_none() {
        return Err(format!(
            "object_store.region = {} is not a region this server knows the country of: use a UK or EU region (e.g. eu-west-2), or give the endpoint and country of an S3-compatible service",
            os.region
        ));
    }
    if os.endpoint.is_some() && os.country.is_none() {
        return Err(
            "object_store.country is not set: with an endpoint, declare the country where the bucket lives (e.g. country = \"GB\")".into(),
        );
    }
    residency::check_location("object_store", os.country.as_deref(), Some(&os.region))
}

/// One checked location as `/v1/info` shows it: "London, United Kingdom (eu-west-2)".
fn location(
    role: &str,
    checked: residency::Checked,
    region: Option<&str>,
    place: Option<&str>,
) -> Location {
    let place = place.or(checked.place);
    let mut description = match place {
        Some(p) => format!("{p}, {}", checked.country_name),
        None => checked.country_name.to_string(),
    };
    if let Some(r) = region {
        description.push_str(&format!(" ({r})"));
    }
    Location {
        role: role.into(),
        country: checked.country,
        region: region.map(str::to_string),
        description,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scale_out(endpoint: Option<&str>, region: &str, country: Option<&str>) -> Config {
        Config {
            postgres: Some(PostgresConfig {
                url: "postgres://x@127.0.0.1/db".into(),
                country: Some("GB".into()),
                ..Default::default()
            }),
            object_store: Some(ObjectStoreConfig {
                endpoint: endpoint.map(str::to_string),
                bucket: "b".into(),
                region: region.into(),
                country: country.map(str::to_string),
                ..Default::default()
            }),
            ..Config::default()
        }
    }

    #[test]
    fn loopback_over_plain_http_needs_trusted_proxies_or_local_only() {
        let mut c = Config::default();
        let e = c.check_proxy_setup().unwrap_err();
        assert!(
            e.contains("trusted_proxies") && e.contains("local_only"),
            "{e}"
        );
        c.local_only = true;
        assert!(c.check_proxy_setup().is_ok());
        c.local_only = false;
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        assert!(c.check_proxy_setup().is_ok());
        c.trusted_proxies.clear();
        c.listen = "0.0.0.0:8787".parse().unwrap();
        assert!(c.check_proxy_setup().is_ok(), "not loopback");
        c.listen = "[::1]:8787".parse().unwrap();
        c.tls_cert = Some("c.pem".into());
        c.tls_key = Some("k.pem".into());
        assert!(
            c.check_proxy_setup().is_ok(),
            "built-in TLS: no HTTP proxy in front"
        );
    }

    #[test]
    fn a_bucket_on_aws_must_name_a_known_region_and_elsewhere_a_country() {
        // On AWS itself a declared country cannot stand in for an unknown region.
        let e = scale_out(None, "ap-northeast-1", Some("GB"))
            .locations()
            .unwrap_err();
        assert!(e.contains("object_store.region = ap-northeast-1"), "{e}");
        let l = scale_out(None, "eu-west-2", None).locations().unwrap();
        assert_eq!(l[1].description, "London, United Kingdom (eu-west-2)");
        // With an endpoint the region name proves nothing: the country must be declared.
        let e = scale_out(Some("https://s3.example.net"), "eu-west-2", None)
            .locations()
            .unwrap_err();
        assert!(e.contains("object_store.country is not set"), "{e}");
        let l = scale_out(Some("http://127.0.0.1:3900"), "garage", Some("DE"))
            .locations()
            .unwrap();
        assert_eq!(l[1].country, "DE");
        assert!(
            scale_out(Some("http://127.0.0.1:3900"), "garage", Some("US"))
                .locations()
                .is_err()
        );
    }
}
