//! Full-text search over session notes, addenda and process notes.
//!
//! The FTS5 index lives inside the encrypted clinical store and is kept up to date by
//! triggers. It knows client codes only; names for display are looked up in the
//! identity store afterwards. The query text is never written to the audit trail.
//!
//! Order: by relevance (FTS5's bm25 rank) when the words match few enough entries for the
//! ranking to be cheap ([`RANKED_UP_TO`]); past that — or for one word nearly every entry
//! holds, where relevance cannot separate the matches anyway — newest first, which FTS5
//! answers by walking its index backwards and stopping once it has enough. The last word
//! typed also matches the words it begins (search as you type), except when it is itself a
//! word too common to rank: matching a prefix is FTS5's one costly step (it merges the lists
//! of every word the prefix begins), so the index keeps prefixes of 1–4 letters ready.
//! Each hit carries the date a therapist knows it by (a note's session, else when it was
//! written), its kind and client; a search can be narrowed to one client and to a range of
//! dates, answered by the index itself from each entry's `facets` (schema v13).

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
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
/// first (scoring every match of a very common word took ~100 ms at 100,000 notes, and
/// scoring 2,000 matches ~20 ms).
pub const RANKED_UP_TO: usize = 1000;

/// What a person typed, as FTS5 phrases (every word must appear; FTS syntax is text).
fn words(input: &str) -> Result<Vec<String>> {
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
    Ok(words)
}

/// Turns what a person typed into a safe FTS5 query: every word must appear (prefix match
/// on the last word), and FTS syntax characters are treated as text.
pub fn fts_query(input: &str) -> Result<String> {
    let mut q = words(input)?.join(" ");
    q.push('*');
    Ok(q)
}

/// The index's date words covering every UTC day from `first` to `last` (both included),
/// as few as possible: whole years as `y2026`, whole months as `m202601`, other days as
/// `d20260105` (the `facets` the index keeps for each entry, schema v13).
pub(crate) fn date_cover(first: NaiveDate, last: NaiveDate) -> Vec<String> {
    let mut out = Vec::new();
    let mut d = first;
    while d <= last {
        let year_end = NaiveDate::from_ymd_opt(d.year(), 12, 31);
        let month_end = d
            .checked_add_months(Months::new(1))
            .and_then(|m| m.with_day(1))
            .and_then(|m| m.pred_opt());
        let next = if d.ordinal() == 1 && year_end.is_some_and(|e| e <= last) {
            out.push(format!("y{}", d.format("%Y")));
            year_end
        } else if d.day() == 1 && month_end.is_some_and(|e| e <= last) {
            out.push(format!("m{}", d.format("%Y%m")));
            month_end
        } else {
            out.push(format!("d{}", d.format("%Y%m%d")));
            Some(d)
        };
        match next.and_then(|n| n.succ_opt()) {
            Some(n) => d = n,
            None => break,
        }
    }
    out
}

/// The earliest and latest years a date filter's open end reaches: an entry dated outside
/// them is not found by a search with only one end given.
const OPEN_FROM_YEAR: i32 = 1900;
const OPEN_TO_YEAR: i32 = 2199;

/// The FTS5 expression for what `filter` narrows to (client and dates), from the `facets`
/// column; `None` when nothing narrows. The dates are covered by whole UTC days, a little
/// wider than the range: the exact bounds are checked on each entry's date afterwards.
fn facet_query(filter: &SearchFilter) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(code) = &filter.client_code {
        let token: String = code
            .chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect();
        parts.push(format!("facets : \"c{token}\""));
    }
    if filter.from.is_some() || filter.to.is_some() {
        let first = filter
            .from
            .map(|f| f.date_naive())
            .or(NaiveDate::from_ymd_opt(OPEN_FROM_YEAR, 1, 1));
        let last = filter
            .to
            .map(|t| (t - chrono::Duration::nanoseconds(1)).date_naive())
            .or(NaiveDate::from_ymd_opt(OPEN_TO_YEAR, 12, 31));
        let tokens = match (first, last) {
            (Some(first), Some(last)) => date_cover(first, last),
            _ => Vec::new(),
        };
        if tokens.is_empty() {
            // No day at all: nothing can match (a word no entry has).
            parts.push("facets : \"none\"".into());
        } else {
            parts.push(format!("facets : ({})", tokens.join(" OR ")));
        }
    }
    (!parts.is_empty()).then(|| parts.join(" AND "))
}

/// How a search orders its results (written to the audit entry).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Order {
    /// By relevance: few enough matches to score them all.
    Rank,
    /// Newest first, the last word matched as a prefix.
    Newest,
    /// Newest first, the last word as a whole word: it alone is in more entries than can be
    /// ranked, so the words it begins could only add matches lost among them.
    NewestWholeWord,
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
        let words = words(query)?;
        if let (Some(from), Some(to)) = (filter.from, filter.to)
            && to <= from
        {
            return Err(CoreError::invalid(
                "the end of the date range is before its start",
            ));
        }
        let narrow = facet_query(filter)
            .map(|f| format!(" AND {f}"))
            .unwrap_or_default();
        let whole = format!("body : ({})", words.join(" "));
        let prefix = format!("body : ({}*)", words.join(" "));
        let limit = limit.clamp(1, 1000) as i64;
        self.act(Action::Search, |cx| {
            // Counted newest first and only up to where ranking stops being cheap, so a
            // common word stops early; the exact date bounds are checked here too.
            let count = |fts: &str, dated: bool| -> Result<usize> {
                let (from, to) = if dated { (filter.from, filter.to) } else { (None, None) };
                Ok(cx.tx.query_row(
                    "SELECT count(*) FROM (SELECT rowid FROM search_index s
                       WHERE search_index MATCH ?1
                         AND (?3 IS NULL OR s.at >= ?3) AND (?4 IS NULL OR s.at < ?4)
                       ORDER BY rowid DESC LIMIT ?2)",
                    rusqlite::params![fts, (ranked_up_to + 1) as i64, from, to],
                    |r| r.get::<_, i64>(0),
                )? as usize)
            };
            // A last word that is already a word in more entries than can be ranked is
            // matched as that word: the words it begins could only add matches lost among
            // its own, and matching a prefix merges the lists of every word it begins (the
            // one costly step FTS5 has). Counting the whole word is cheap: it stops at the
            // limit. (Its first 1–4 letters, as typed, have an index of their own.)
            let common = count(&whole, false)? > ranked_up_to;
            let fts = format!("{}{narrow}", if common { &whole } else { &prefix });
            // One word in nearly every entry: relevance cannot separate its matches, narrowed
            // or not, so they are listed newest first without being counted.
            let many = if common && (narrow.is_empty() || words.len() == 1) {
                true
            } else {
                count(&fts, true)? > ranked_up_to
            };
            let order = match (many, common) {
                (false, _) => Order::Rank,
                (true, false) => Order::Newest,
                (true, true) => Order::NewestWholeWord,
            };
            let by = if order == Order::Rank { "rank" } else { "s.rowid DESC" };
            // One pass, no subquery to materialise: newest first streams and stops at the limit.
            let sql = format!(
                "SELECT s.client_code, s.kind, s.object_id,
                        snippet(search_index, 0, '[', ']', '…', 12),
                        CASE s.kind WHEN 'note' THEN s.object_id
                                    WHEN 'addendum' THEN (SELECT note_id FROM addenda WHERE id = s.object_id)
                        END,
                        s.at
                 FROM search_index s WHERE search_index MATCH ?1
                   AND (?3 IS NULL OR s.client_code = ?3)
                   AND (?4 IS NULL OR s.at >= ?4)
                   AND (?5 IS NULL OR s.at < ?5)
                 ORDER BY {by} LIMIT ?2"
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
                match order {
                    Order::Rank => "rank",
                    Order::Newest => "newest",
                    Order::NewestWholeWord => "newest_whole_word",
                },
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
            Some("results=3 order=newest_whole_word")
        );
        // A word's beginning that is too common to rank: newest first, as a prefix.
        let newest = v.search_ranked_up_to("harb", &all, 2, 4).unwrap();
        let got: Vec<_> = newest.iter().map(|h| h.object_id.clone()).collect();
        assert_eq!(got, [ids[4].clone(), ids[3].clone()]);
        let audit = v.audit_entries(&crate::AuditFilter::default()).unwrap();
        assert_eq!(
            audit.last().unwrap().detail.as_deref(),
            Some("results=2 order=newest")
        );
    }

    #[test]
    fn what_the_filter_narrows_to_is_not_searched_as_words() {
        let (_dir, mut v, code, _ids) = vault_with_notes();
        // The client's and the dates' index words are never matched by what is typed.
        let token: String = code
            .as_str()
            .chars()
            .filter(|c| c.is_alphanumeric())
            .collect();
        assert!(v.search(&format!("c{token}"), 10).unwrap().is_empty());
        let year = chrono::Utc::now().format("%Y").to_string();
        assert!(v.search(&format!("y{year}"), 10).unwrap().is_empty());
        // But they narrow: this client, this year.
        let this_year = SearchFilter {
            client_code: Some(code.to_string()),
            from: Some(chrono::Utc::now() - chrono::Duration::days(1)),
            to: Some(chrono::Utc::now() + chrono::Duration::days(1)),
        };
        assert_eq!(v.search_with("harbour", &this_year, 10).unwrap().len(), 5);
        let later = SearchFilter {
            from: Some(chrono::Utc::now() + chrono::Duration::seconds(5)),
            ..Default::default()
        };
        assert!(v.search_with("harbour", &later, 10).unwrap().is_empty());
        let other = SearchFilter {
            client_code: Some("C-ZZZZ".into()),
            ..Default::default()
        };
        assert!(v.search_with("harbour", &other, 10).unwrap().is_empty());
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// Which of the cover's words holds `d`.
    fn covers(token: &str, d: NaiveDate) -> bool {
        match token.split_at(1) {
            ("y", y) => d.format("%Y").to_string() == y,
            ("m", m) => d.format("%Y%m").to_string() == m,
            ("d", x) => d.format("%Y%m%d").to_string() == x,
            _ => false,
        }
    }

    #[test]
    fn a_date_range_is_covered_by_years_months_and_days() {
        assert_eq!(
            date_cover(day(2025, 12, 30), day(2027, 2, 2)),
            [
                "d20251230",
                "d20251231",
                "y2026",
                "m202701",
                "d20270201",
                "d20270202"
            ]
        );
        assert_eq!(date_cover(day(2024, 2, 1), day(2024, 2, 29)), ["m202402"]);
        assert!(date_cover(day(2024, 3, 2), day(2024, 3, 1)).is_empty());
    }

    proptest! {
        #[test]
        fn every_day_in_the_range_is_covered_once_and_none_outside(
            start in 0i64..40_000, len in 0i64..2_000, probe in -400i64..2_400
        ) {
            let first = day(1950, 1, 1) + chrono::Duration::days(start);
            let last = first + chrono::Duration::days(len);
            let cover = date_cover(first, last);
            let d = first + chrono::Duration::days(probe);
            let n = cover.iter().filter(|t| covers(t, d)).count();
            prop_assert_eq!(n, usize::from(d >= first && d <= last), "{} in {:?}", d, cover);
            // Few words: at most a year's days and months at each end, plus the years.
            prop_assert!(cover.len() <= 2 * (30 + 11) + (len as usize / 365) + 1);
        }
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
