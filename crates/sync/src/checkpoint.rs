//! Checkpoints in a device's log: the device's whole synced state, sealed as a run of
//! `checkpoint` (clinical rows, to the clinical sync key) and `identity_checkpoint` (names and
//! contact details, to the identity sync key) blobs, each one chunk of at most [`ROWS`] rows.
//! Once every chunk is acknowledged, the device cuts its own log on the server below the
//! first chunk (compaction).
//!
//! A computer that has verified the writer's log right up to the checkpoint holds everything
//! in it already (it applied every blob the writer had seen first): it verifies the chunks
//! and applies nothing. One that finds the log cut — a new computer, or one away while the
//! writer compacted — starts the writer's chain again at the checkpoint's first chunk (signed
//! by the writer, so the server cannot make one up) and applies every chunk in full, by the
//! merge rules: order does not matter and erasures absorb everything.

use std::collections::BTreeMap;

use casebook_core::merge::RowChange;
use serde::{Deserialize, Serialize};

use crate::blob::Kind;

/// Rows per chunk at most (a few MiB of notes).
pub const ROWS: usize = 2_000;
/// Changes sealed since the last checkpoint that make a new one due.
pub const AFTER_CHANGES: u64 = 5_000;
/// Time since the last checkpoint (with changes since) that makes a new one due.
pub const AFTER_SECONDS: i64 = 24 * 3600;

/// One chunk, as it travels inside a blob.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chunk {
    /// 1-based: chunk `part` of `of`, in consecutive seqs of the writer's log.
    pub part: u32,
    pub of: u32,
    pub rows: Vec<RowChange>,
    /// In the first chunk: the writer's last audit entry sealed before the checkpoint, so a
    /// computer starting the writer's chain here holds its audit trail from that entry on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditMark>,
    /// In the first chunk: the id each computer's vault stamps its writes with, and that
    /// computer's id in the device list — the writer's own included — as the writer knows
    /// them. A computer that starts the writer's chain here names who wrote what (a session
    /// running elsewhere, the other side of a conflict) without the blobs cut below it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub writers: BTreeMap<String, String>,
    /// In the first chunk: the last entry of each other computer's audit trail the writer
    /// holds. A computer that takes one of their logs as read from this checkpoint (the log
    /// was emptied on the server: see `docs/sync.md`, "A computer switched off since an
    /// erasure") holds that computer's trail from this entry on.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub audits: BTreeMap<String, AuditMark>,
}

/// An entry of a device's audit trail: its number and hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditMark {
    pub seq: i64,
    pub hash: String,
}

impl Chunk {
    /// Decodes a chunk (from a verified, decrypted blob); `None` when it is not one, or its
    /// numbering makes no sense.
    pub fn decode(payload: &[u8]) -> Option<Chunk> {
        let c: Chunk = serde_json::from_slice(payload).ok()?;
        (c.part >= 1 && c.part <= c.of).then_some(c)
    }
}

/// This device's newest checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Written {
    /// The seqs of its first and last chunk.
    pub first: u64,
    pub last: u64,
    /// When it was sealed (seconds since the epoch).
    pub at: i64,
    /// Erasures known when it was sealed: one more makes the next checkpoint due.
    pub erasures: i64,
    /// Whether the server has cut the log below `first`.
    pub cut: bool,
    /// The seq of every other device's log it holds (the writer's view when it was sealed):
    /// a revoked computer's log held to its cut can be removed from the server once this
    /// checkpoint starts the log.
    #[serde(default)]
    pub view: std::collections::BTreeMap<String, u64>,
}

/// Whether a blob of `kind` is a checkpoint chunk.
pub fn is_chunk(kind: Kind) -> bool {
    matches!(kind, Kind::Checkpoint | Kind::IdentityCheckpoint)
}

/// The chunks of a checkpoint: clinical rows then identity rows, each store at least one chunk
/// (possibly empty), numbered across both.
pub fn split(
    clinical: Vec<RowChange>,
    identity: Vec<RowChange>,
    audit: Option<AuditMark>,
    writers: BTreeMap<String, String>,
    audits: BTreeMap<String, AuditMark>,
) -> Vec<(Kind, Chunk)> {
    let mut parts: Vec<(Kind, Vec<RowChange>)> = Vec::new();
    for (kind, rows) in [
        (Kind::Checkpoint, clinical),
        (Kind::IdentityCheckpoint, identity),
    ] {
        if rows.is_empty() {
            parts.push((kind, Vec::new()));
        }
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            parts.push((kind, rows.by_ref().take(ROWS).collect()));
        }
    }
    let of = parts.len() as u32;
    parts
        .into_iter()
        .enumerate()
        .map(|(i, (kind, rows))| {
            (
                kind,
                Chunk {
                    part: i as u32 + 1,
                    of,
                    rows,
                    audit: if i == 0 { audit.clone() } else { None },
                    writers: if i == 0 {
                        writers.clone()
                    } else {
                        BTreeMap::new()
                    },
                    audits: if i == 0 {
                        audits.clone()
                    } else {
                        BTreeMap::new()
                    },
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use casebook_core::merge::ChangeOp;

    fn rows(n: usize) -> Vec<RowChange> {
        (0..n)
            .map(|i| RowChange {
                t: "clients".into(),
                k: format!("k{i}"),
                op: ChangeOp::Upsert,
                hlc: "0000000000000001-00000000".into(),
                d: "d".into(),
                f: Default::default(),
                b: Default::default(),
                s: Default::default(),
            })
            .collect()
    }

    #[test]
    fn chunks_are_numbered_across_both_stores_and_keep_every_row() {
        let mark = AuditMark {
            seq: 7,
            hash: "h".into(),
        };
        let writers = BTreeMap::from([("record-id".to_string(), "device-id".to_string())]);
        let audits = BTreeMap::from([("other-device".to_string(), mark.clone())]);
        let parts = split(
            rows(ROWS * 2 + 1),
            Vec::new(),
            Some(mark.clone()),
            writers.clone(),
            audits.clone(),
        );
        assert_eq!(parts[0].1.audit, Some(mark));
        assert_eq!(parts[0].1.writers, writers);
        assert_eq!(parts[0].1.audits, audits);
        assert!(
            parts[1..]
                .iter()
                .all(|(_, c)| c.audit.is_none() && c.writers.is_empty() && c.audits.is_empty())
        );
        assert_eq!(parts.len(), 4);
        assert!(
            parts
                .iter()
                .enumerate()
                .all(|(i, (_, c))| c.part == i as u32 + 1 && c.of == 4)
        );
        assert_eq!(parts[3].0, Kind::IdentityCheckpoint);
        assert!(parts[3].1.rows.is_empty());
        let kept: usize = parts.iter().map(|(_, c)| c.rows.len()).sum();
        assert_eq!(kept, ROWS * 2 + 1);
        let bytes = serde_json::to_vec(&parts[0].1).unwrap();
        assert_eq!(Chunk::decode(&bytes), Some(parts[0].1.clone()));
        assert_eq!(Chunk::decode(br#"{"part":3,"of":2,"rows":[]}"#), None);
        assert_eq!(Chunk::decode(br#"{"part":0,"of":2,"rows":[]}"#), None);
        assert_eq!(Chunk::decode(b"not json"), None);
    }
}
