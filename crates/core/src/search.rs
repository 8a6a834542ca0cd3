//! Full-text search over session notes, addenda and process notes.
//!
//! The FTS5 index lives inside the encrypted clinical store and is kept up to date by
//! triggers. It knows client codes only; names for display are looked up in the
//! identity store afterwards. The query text is never written to the audit trail.
//!
//! Order: by relevance (FTS5's bm25 rank) when the words match few enough entries for the
//! ranking to be cheap ([`RANKED_UP_TO`]); past that — a word nearly every note holds, where
//! relevance cannot separate the matches anyway — newest first, which FTS5 can answer by
//! walking its index backwards and stopping once it has enough. Each hit carries the date a
//! therapist knows it by (a note's session, else when it was written), its kind and client;
//! a search can be narrowed to one client and to a range of dates.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::audit::Action;
use crate::error::{CoreError, Result};
use crate::vault::Vault;

/// One search result.
#[derive(Clone, Debug, Serialize)]
pub struct SearchHit {
    pub client_code: String,
    /// From the identity store, for display.
    pub client_name: Option<String>,
    /// `note`, `addendum` or `process_note`.
    pub kind: String,
    /// The id of the matching note, addendum or process note.
    pub object_id: String,
    /// The session note to open: the note itself, or the note an addendum belongs to.
    pub note_id: Option<String>,
    /// A short excerpt with the matches in `[brackets]`.
    pub snippet: String,
    /// When: a note's session (else when the note was written); when an addendum or a
    /// process note was written.
    pub at: Option<DateTime<Utc>>,
}

/// What a search is narrowed to.
#[derive(Clone, Debug, Default)]
pub struct SearchFilter {
    /// Only this client's entries.
    pub client_code: Option<String>,
    /// Only entries dated at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Only entries dated before this time.
    pub to: Option<DateTime<Utc>>,
}

/// Up to this many matching entries, results are ordered by relevance; beyond it, newest
/// first (scoring every match of a very common word took ~100 ms at 100,000 notes).
pub const RANKED_UP_TO: usize = 2000;

/// The date of an index entry (`s` is the search_index row), as SQL.
const ENTRY_DATE: &str = "CASE s.kind
    WHEN 'note' THEN (SELECT COALESCE(a.starts_at, n.created_at) FROM session_notes n
                      LEFT JOIN appointments a ON a.id = n.appointment_id WHERE n.id = s.object_id)
    WHEN 'addendum' THEN (SELECT created_at FROM addenda WHERE id = s.object_id)
    ELSE (SELECT created_at FROM process_notes WHERE id = s.object_id) END";

/// Turns what a person typed into a safe FTS5 query: every word must appear (prefix match
/// on the last word), and FTS syntax characters are treated as text.
pub fn fts_query(input: &str) -> Result<String> {
    let words: Vec<String> = input
        .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '-'))
        .map(|w| w.trim_matches(|c| c == '\'' || c == '-'))
        .filter(|w| !w.is_empty())
        .take(32)
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect();
    if words.is_empty() {
        return Err(CoreError::invalid(
            "the search is empty: give at least one word",
        ));
    }
    let mut q = words.join(" ");
    q.push('*');
    Ok(q)
}

impl Vault {
    /// Finds notes, addenda and process notes containing every word of `query`.
    pub fn search(&mut self, query: &str, limit: usize) -> Result<Vec<SearchHit>> {
        self.search_with(query, &SearchFilter::default(), limit)
    }

    /// [`Vault::search`], narrowed by `filter`.
    pub fn search_with(
        &mut self,
        query: &str,
        filter: &SearchFilter,
        limit: usize,
    ) -> Result<Vec<SearchHit>> {
        self.search_ranked_up_to(query, filter, limit, RANKED_UP_TO)
    }

    /// [`Vault::search_with`], ranking by relevance only up to `ranked_up_to` matches (tests
    /// choose a small number to reach the newest-first order with a small vault).
    pub(crate) fn search_ranked_up_to(
        &mut self,
        query: &str,
        filter: &SearchFilter,
        limit: usize,
        ranked_up_to: usize,
    ) -> Result<Vec<SearchHit>> {
        let fts = fts_query(query)?;
        if let (Some(from), Some(to)) = (filter.from, filter.to)
            && to <= from
        {
            return Err(CoreError::invalid(
                "the end of the date range is before its start",
            ));
        }
        let limit = limit.clamp(1, 1000) as i64;
        self.act(Action::Search, |cx| {
            // How many entries match, counted only up to the point where ranking stops
            // being cheap (newest first, so a common word stops early).
            let matches: usize = cx.tx.query_row(
                "SELECT count(*) FROM (SELECT rowid FROM search_index WHERE search_index MATCH ?1
                                       ORDER BY rowid DESC LIMIT ?2)",
                rusqlite::params![fts, (ranked_up_to + 1) as i64],
                |r| r.get::<_, i64>(0),
            )? as usize;
            let ranked = matches <= ranked_up_to;
            let order = if ranked { "rank" } else { "s.rowid DESC" };
            // One pass, no subquery to materialise: newest first streams and stops at the limit.
            let sql = format!(
                "SELECT s.client_code, s.kind, s.object_id,
                        snippet(search_index, 0, '[', ']', '…', 12),
                        CASE s.kind WHEN 'note' THEN s.object_id
                                    WHEN 'addendum' THEN (SELECT note_id FROM addenda WHERE id = s.object_id)
                        END,
                        {ENTRY_DATE}
                 FROM search_index s WHERE search_index MATCH ?1
                   AND (?3 IS NULL OR s.client_code = ?3)
                   AND (?4 IS NULL OR ({ENTRY_DATE}) >= ?4)
                   AND (?5 IS NULL OR ({ENTRY_DATE}) < ?5)
                 ORDER BY {order} LIMIT ?2"
            );
            let mut stmt = cx.tx.prepare(&sql)?;
            let rows = stmt
                .query_map(
                    rusqlite::params![fts, limit, filter.client_code, filter.from, filter.to],
                    |r| {
                        Ok(SearchHit {
                            client_code: r.get(0)?,
                            client_name: None,
                            kind: r.get(1)?,
                            object_id: r.get(2)?,
                            snippet: r.get(3)?,
                            note_id: r.get(4)?,
                            at: r.get(5)?,
                        })
                    },
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut hits = rows;
            for hit in &mut hits {
                hit.client_name = Vault::names_for(cx.tx, &hit.client_code)?;
            }
            cx.detail(format!(
                "results={} order={}{}{}",
                hits.len(),
                if ranked { "rank" } else { "newest" },
                if filter.client_code.is_some() { " by_client" } else { "" },
                if filter.from.is_some() || filter.to.is_some() { " by_date" } else { "" },
            ));
            Ok(hits)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn queries_are_quoted() {
        assert_eq!(fts_query("sleep worse").unwrap(), "\"sleep\" \"worse\"*");
        assert_eq!(
            fts_query("NEAR(\"a\" OR b)").unwrap(),
            "\"NEAR\" \"a\" \"OR\" \"b\"*"
        );
        assert!(fts_query("  ** ").is_err());
    }

    /// A vault with one client and notes written in order, the last `common` of them (and
    /// only they) holding the word "harbour", one of those also "lighthouse" twice.
    fn vault_with_notes() -> (tempfile::TempDir, Vault, crate::ClientCode, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let mut v = Vault::init(&dir.path().join("vault"), Some("search passphrase"))
            .unwrap()
            .vault;
        let code = v
            .add_client(crate::ClientIdentity {
                full_name: "Ada Example".into(),
                ..Default::default()
            })
            .unwrap()
            .code;
        let mut ids = Vec::new();
        for text in [
            "harbour walk, lighthouse lighthouse, lighthouse again",
            "harbour again",
            "harbour at dusk",
            "harbour and sleep",
            "harbour, last of all",
        ] {
            let n = v
                .add_note(
                    &code,
                    crate::NoteTemplate::Free,
                    &[("text".into(), text.into())],
                    None,
                )
                .unwrap();
            ids.push(n.id);
        }
        (dir, v, code, ids)
    }

    #[test]
    fn few_matches_go_by_relevance_many_go_newest_first() {
        let (_dir, mut v, _code, ids) = vault_with_notes();
        let all = SearchFilter::default();
        // Ranked: the note that says "lighthouse" three times first.
        let ranked = v
            .search_ranked_up_to("harbour lighthouse", &all, 10, 3)
            .unwrap();
        assert_eq!(ranked.len(), 1);
        let ranked = v.search_ranked_up_to("harbour", &all, 10, 5).unwrap();
        assert_eq!(ranked.len(), 5);
        // Over the threshold: newest first, stopping at the limit.
        let newest = v.search_ranked_up_to("harbour", &all, 3, 4).unwrap();
        let got: Vec<_> = newest.iter().map(|h| h.object_id.clone()).collect();
        assert_eq!(got, [ids[4].clone(), ids[3].clone(), ids[2].clone()]);
        let audit = v.audit_entries(&crate::AuditFilter::default()).unwrap();
        assert_eq!(
            audit.last().unwrap().detail.as_deref(),
            Some("results=3 order=newest")
        );
    }

    proptest! {
        #[test]
        fn any_input_gives_a_query_sqlite_accepts(s in "\\PC{0,60}") {
            if let Ok(q) = fts_query(&s) {
                let conn = rusqlite::Connection::open_in_memory().unwrap();
                conn.execute_batch("CREATE VIRTUAL TABLE t USING fts5(body); INSERT INTO t VALUES ('hello world');").unwrap();
                let r: rusqlite::Result<i64> = conn.query_row("SELECT count(*) FROM t WHERE t MATCH ?1", [q], |r| r.get(0));
                prop_assert!(r.is_ok(), "{:?}", r);
            }
        }
    }
}
