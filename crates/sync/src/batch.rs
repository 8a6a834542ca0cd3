//! What a blob of changes or a heartbeat carries inside the encryption: the row changes of
//! one store and, in clinical blobs and heartbeats, the writer's audit entries not sent yet.
//!
//! Audit entries ride in the blobs a computer sends anyway rather than in blobs of their
//! own: each blob costs an age header and a signature (about 300 bytes), which is most of a
//! one-field edit. They never ride in identity blobs: those are encrypted to the identity
//! sync key, and the audit trail (client codes and what was done) belongs with the clinical
//! one. [`Batch::decode`] reads bytes from another computer through the untrusted server
//! (after the signature and decryption checks) and is fuzzed.

use casebook_core::audit::SentEntry;
use casebook_core::merge::RowChange;
use serde::{Deserialize, Serialize};

use crate::blob::Kind;

/// One blob's changes and audit entries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// Row changes of the blob's store (none in a heartbeat).
    #[serde(default, rename = "c", skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<RowChange>,
    /// The writer's own audit entries, in order, after the last it sent, without their chain
    /// hashes (the receiver links them: [`casebook_core::Vault::audit_apply_sent`]).
    #[serde(default, rename = "a", skip_serializing_if = "Vec::is_empty")]
    pub audit: Vec<SentEntry>,
}

impl Batch {
    /// The payload's bytes.
    pub fn encode(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }

    /// Reads the payload of a blob of `kind`; `None` when it is not a batch, or holds what a
    /// blob of that kind never holds (changes in a heartbeat, audit entries under the
    /// identity key).
    pub fn decode(kind: Kind, payload: &[u8]) -> Option<Batch> {
        // An object, as written (serde would also take a list of the fields in order).
        if payload.first() != Some(&b'{') {
            return None;
        }
        let b: Batch = serde_json::from_slice(payload).ok()?;
        let fits = match kind {
            Kind::Clinical => true,
            Kind::Identity => b.audit.is_empty(),
            Kind::Heartbeat => b.changes.is_empty(),
            _ => false,
        };
        fits.then_some(b)
    }

    /// Whether blobs of `kind` carry a batch.
    pub fn carried_by(kind: Kind) -> bool {
        matches!(kind, Kind::Clinical | Kind::Identity | Kind::Heartbeat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_carries_only_what_it_may() {
        let change: RowChange = serde_json::from_str(
            r#"{"t":"clients","k":"x","op":"upsert","hlc":"0001732281600000-00000003","d":"dev-a","f":{"status":"closed"}}"#,
        )
        .unwrap();
        let with_change = Batch {
            changes: vec![change],
            audit: vec![],
        };
        let bytes = with_change.encode().unwrap();
        assert_eq!(
            Batch::decode(Kind::Clinical, &bytes),
            Some(with_change.clone())
        );
        assert_eq!(Batch::decode(Kind::Identity, &bytes), Some(with_change));
        assert_eq!(Batch::decode(Kind::Heartbeat, &bytes), None);
        assert_eq!(Batch::decode(Kind::Audit, &bytes), None);
        // An empty heartbeat is two bytes.
        assert_eq!(Batch::default().encode().unwrap(), b"{}");
        assert_eq!(
            Batch::decode(Kind::Heartbeat, b"{}"),
            Some(Batch::default())
        );
        assert_eq!(Batch::decode(Kind::Clinical, b"[]"), None);
        assert_eq!(Batch::decode(Kind::Clinical, br#"{"c":[],"x":1}"#), None);
    }
}
