//! A small practice for tests: a new passphrase vault with the named clients.

use casebook_core::{ClientCode, ClientIdentity, Vault};

/// A vault in a temporary folder (kept while the `TempDir` lives) with one client per name,
/// their codes in the same order.
pub fn with_clients(names: &[&str]) -> (tempfile::TempDir, Vault, Vec<ClientCode>) {
    let dir = tempfile::tempdir().unwrap();
    let mut v = Vault::init(&dir.path().join("vault"), Some("test practice passphrase"))
        .unwrap()
        .vault;
    let codes = names
        .iter()
        .map(|name| {
            v.add_client(ClientIdentity {
                full_name: (*name).into(),
                ..Default::default()
            })
            .unwrap()
            .code
        })
        .collect();
    (dir, v, codes)
}

/// A note's fields for the narrative (free) template.
pub fn text(t: &str) -> Vec<(String, String)> {
    vec![("text".to_string(), t.to_string())]
}
