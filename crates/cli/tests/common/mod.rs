//! Test harness: a throwaway vault driven through the real `casebook` binary, with keys in
//! the real OS keychain or in a passphrase key file.
//!
//! Keychain tests need a Secret Service (gnome-keyring under a D-Bus session, as
//! `scripts/test` sets up). With `CASEBOOK_FULL_TESTS=1` (set by that script and by CI)
//! they must run; without it a developer's plain `cargo test` skips them and says so.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

pub mod sync_server;

pub const PASSPHRASE: &str = "correct horse battery staple";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyStore {
    Keychain,
    Passphrase,
}

/// Whether the full environment (keychain, sqlcipher3) is promised.
pub fn full() -> bool {
    std::env::var("CASEBOOK_FULL_TESTS").is_ok_and(|v| v == "1")
}

/// Whether keychain tests can run here; panics if they must but cannot.
pub fn keychain_available() -> bool {
    let reachable = std::env::var("DBUS_SESSION_BUS_ADDRESS").is_ok();
    if full() {
        assert!(
            reachable,
            "CASEBOOK_FULL_TESTS=1 but no D-Bus session: run the tests through scripts/test"
        );
        true
    } else {
        if !reachable {
            eprintln!(
                "skipping keychain test: no D-Bus session (run scripts/test for the full suite)"
            );
        }
        reachable
    }
}

pub struct TestVault {
    pub home: TempDir,
    pub dir: PathBuf,
    pub store: KeyStore,
    pub recovery_key: String,
}

impl TestVault {
    /// A fresh vault using `store`, created with `casebook init` (stdin not a terminal).
    pub fn new(store: KeyStore) -> TestVault {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join("vault");
        let mut tv = TestVault {
            home,
            dir,
            store,
            recovery_key: String::new(),
        };
        let out = tv
            .cmd()
            .args(["init", "--json"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v["key_store"],
            match store {
                KeyStore::Keychain => "os-keychain",
                KeyStore::Passphrase => "passphrase",
            }
        );
        tv.recovery_key = v["recovery_key"].as_str().unwrap().to_string();
        tv
    }

    /// `casebook` with this vault, the right secrets in the environment, and no stdin.
    pub fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("casebook").unwrap();
        c.env("CASEBOOK_VAULT", &self.dir)
            .env_remove("CASEBOOK_RECOVERY_KEY")
            .write_stdin("");
        match self.store {
            KeyStore::Passphrase => c.env("CASEBOOK_PASSPHRASE", PASSPHRASE),
            KeyStore::Keychain => c.env_remove("CASEBOOK_PASSPHRASE"),
        };
        c
    }

    /// Runs a command that must succeed and returns its JSON output.
    pub fn json(&self, args: &[&str]) -> Value {
        let out = self
            .cmd()
            .arg("--json")
            .args(args)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        serde_json::from_slice(&out).unwrap_or_else(|e| {
            panic!(
                "{args:?}: not JSON ({e}): {}",
                String::from_utf8_lossy(&out)
            )
        })
    }

    pub fn add_client(&self, name: &str) -> String {
        self.json(&["client", "add", "--name", name])["code"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub fn add_note(&self, code: &str, text: &str) -> String {
        self.json(&["note", "add", code, "--text", text])["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Both database keys, from `casebook keys show --i-understand --json`.
    pub fn keys(&self) -> (String, String) {
        let v = self.json(&["keys", "show", "--i-understand"]);
        (
            v["clinical_db_key"].as_str().unwrap().to_string(),
            v["identity_db_key"].as_str().unwrap().to_string(),
        )
    }

    /// Opens one store directly with rusqlite/SQLCipher and its raw key.
    pub fn open_store(&self, file: &str, key_hex: &str) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open(self.dir.join(file)).unwrap();
        conn.execute_batch(&format!("PRAGMA key = \"x'{key_hex}'\";"))
            .unwrap();
        conn
    }

    pub fn audit_count(&self) -> i64 {
        let (ck, _) = self.keys_quiet();
        let conn = self.open_store("clinical.db", &ck);
        conn.query_row("SELECT count(*) FROM audit_log", [], |r| r.get(0))
            .unwrap()
    }

    /// The keys without adding an audit entry: read from the recovery file with the recovery key.
    pub fn keys_quiet(&self) -> (String, String) {
        let sealed = std::fs::read(self.dir.join("recovery.age")).unwrap();
        let out = age_decrypt(&self.recovery_key, &sealed);
        let v: Value = serde_json::from_slice(&out).unwrap();
        (
            v["clinical_db_key"].as_str().unwrap().to_string(),
            v["identity_db_key"].as_str().unwrap().to_string(),
        )
    }

    /// Actions of the audit entries after `seq`, read directly from the store.
    pub fn actions_after(&self, seq: i64) -> Vec<String> {
        let (ck, _) = self.keys_quiet();
        let conn = self.open_store("clinical.db", &ck);
        let mut stmt = conn
            .prepare("SELECT action FROM audit_log WHERE seq > ?1 ORDER BY seq")
            .unwrap();
        stmt.query_map([seq], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    /// SHA-256 of every file in the vault folder.
    pub fn fingerprint(&self) -> BTreeMap<String, String> {
        fingerprint(&self.dir)
    }
}

pub fn fingerprint(dir: &Path) -> BTreeMap<String, String> {
    use sha2::{Digest, Sha256};
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            let bytes = std::fs::read(e.path()).unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                hex::encode(Sha256::digest(bytes)),
            )
        })
        .collect()
}

/// Decrypts an age passphrase file with the `age` crate, standing in for `age -d`.
fn age_decrypt(passphrase: &str, sealed: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let d = age::Decryptor::new_buffered(sealed).unwrap();
    let id = age::scrypt::Identity::new(age::secrecy::SecretString::from(passphrase.to_string()));
    let mut r = d
        .decrypt(std::iter::once(&id as &dyn age::Identity))
        .unwrap();
    let mut out = Vec::new();
    r.read_to_end(&mut out).unwrap();
    out
}

/// Every text value in every table of a store, for "does this store hold X" checks.
pub fn all_text(conn: &rusqlite::Connection) -> String {
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut all = String::new();
    for t in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let n = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..n {
                if let Ok(rusqlite::types::ValueRef::Text(s)) = row.get_ref(i) {
                    all.push_str(&String::from_utf8_lossy(s));
                    all.push('\n');
                }
            }
        }
    }
    all
}

/// Declares a test once per key store; keychain variants skip politely outside the full suite.
#[macro_export]
macro_rules! for_each_key_store {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn passphrase() {
                ($body)(KeyStore::Passphrase);
            }
            #[test]
            fn keychain() {
                if keychain_available() {
                    ($body)(KeyStore::Keychain);
                }
            }
        }
    };
}
