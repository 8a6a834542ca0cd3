//! Full-text search over session notes, addenda and process notes.
//!
//! The FTS5 index lives inside the encrypted clinical store and is kept up to date by
//! triggers. It knows client codes only; names for display are looked up in the
//! identity store afterwards. The query text is never written to the audit trail.

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
}

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
        let fts = fts_query(query)?;
        let limit = limit.clamp(1, 1000) as i64;
        self.act(Action::Search, |cx| {
            let mut stmt = cx.tx.prepare(
                "SELECT s.client_code, s.kind, s.object_id,
                        snippet(search_index, 0, '[', ']', '…', 12),
                        CASE s.kind WHEN 'note' THEN s.object_id
                                    WHEN 'addendum' THEN (SELECT note_id FROM addenda WHERE id = s.object_id)
                        END
                 FROM search_index s WHERE search_index MATCH ?1 ORDER BY rank LIMIT ?2",
            )?;
            let rows = stmt
                .query_map(rusqlite::params![fts, limit], |r| {
                    Ok(SearchHit {
                        client_code: r.get(0)?,
                        client_name: None,
                        kind: r.get(1)?,
                        object_id: r.get(2)?,
                        snippet: r.get(3)?,
                        note_id: r.get(4)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut hits = rows;
            for hit in &mut hits {
                hit.client_name = Vault::names_for(cx.tx, &hit.client_code)?;
            }
            cx.detail(format!("results={}", hits.len()));
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
