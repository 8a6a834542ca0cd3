//! The pseudonymised export for clinical supervision: chosen clients' notes with client
//! codes only. Every name the identity store knows — full names, each part of them, known
//! aliases, and the client's email, phone and NHS number — is replaced in the text by the client's
//! code (whole words, any case); dates can be shifted by a number of days the export does
//! not reveal. Audited.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::clients::ClientIdentity;
use super::require_client;
use super::rows::rows;
use crate::audit::Action;
use crate::error::Result;
use crate::records::clients::ClientCode;
use crate::vault::Vault;

/// The largest date shift accepted (ten years), either way.
pub const MAX_SHIFT_DAYS: i64 = 3650;

/// What to export.
#[derive(Clone, Debug, Default)]
pub struct SupervisionOptions {
    /// Move every date by this many days (the amount is not written into the export).
    pub shift_days: Option<i64>,
    /// Only these notes (by id); all finalised notes of the clients when `None`.
    pub note_ids: Option<Vec<String>>,
}

/// The export, ready to write out.
#[derive(Clone, Debug, Serialize)]
pub struct SupervisionExport {
    pub content: Value,
    pub notes: usize,
}

impl SupervisionExport {
    /// Writes the export as `supervision-<time>.json` in `dir` (created if needed), readable
    /// by the owner only. Returns the file's path.
    pub fn write_to(&self, dir: &std::path::Path) -> Result<std::path::PathBuf> {
        std::fs::create_dir_all(dir).map_err(crate::CoreError::io(dir))?;
        // No date in the name: it would give away a date shift.
        let path = (1..)
            .map(|n| dir.join(format!("supervision-{n:03}.json")))
            .find(|p| !p.exists())
            .unwrap_or_else(|| dir.join("supervision.json"));
        self.write_file(&path)?;
        Ok(path)
    }

    /// Writes the export as exactly `path` (a file the therapist chose), replacing it whole.
    pub fn write_file(&self, path: &std::path::Path) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(&self.content)
            .map_err(|e| crate::CoreError::Corrupt(e.to_string()))?;
        crate::sealed::write_atomically(path, &bytes)
    }
}

/// Terms to replace, with their replacement, longest first.
fn terms(
    code: &str,
    who: &ClientIdentity,
    parts_too: bool,
    earlier_names: &[String],
) -> Vec<(Vec<char>, String)> {
    let mut t: Vec<String> = vec![who.full_name.clone()];
    t.extend(who.aliases.iter().cloned());
    t.extend(earlier_names.iter().cloned());
    if parts_too {
        // The people around the client are named in notes too.
        t.extend(who.emergency_contact.iter().cloned());
        t.extend(who.gp.iter().cloned());
        let names: Vec<String> = std::iter::once(&who.full_name)
            .chain(&who.aliases)
            .chain(earlier_names)
            .flat_map(|n| n.split([' ', '-']).map(str::to_string).collect::<Vec<_>>())
            .filter(|p| p.chars().count() >= 2)
            .collect();
        t.extend(names);
        t.extend(who.email.iter().cloned());
        t.extend(who.phone.iter().cloned());
        // The NHS number as stored and as usually written (943 476 5919, 943-476-5919).
        if let Some(n) = &who.nhs_number {
            let spaced = super::clients::show_nhs_number(n);
            t.push(spaced.replace(' ', "-"));
            t.push(spaced);
            t.push(n.clone());
        }
    }
    t.into_iter()
        .map(|s| (lower(s.trim()), code.to_string()))
        .filter(|(s, _)| !s.is_empty())
        .collect()
}

fn lower(s: &str) -> Vec<char> {
    s.chars()
        .map(|c| c.to_lowercase().next().unwrap_or(c))
        .collect()
}

/// Replaces every whole-word, any-case occurrence of each term by its replacement.
pub(crate) fn pseudonymise(text: &str, terms: &[(Vec<char>, String)]) -> String {
    let chars: Vec<char> = text.chars().collect();
    let low: Vec<char> = chars
        .iter()
        .map(|c| c.to_lowercase().next().unwrap_or(*c))
        .collect();
    let word = |c: Option<&char>| c.is_some_and(|c| c.is_alphanumeric());
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    'outer: while i < chars.len() {
        if !word(i.checked_sub(1).and_then(|j| chars.get(j))) {
            for (term, rep) in terms {
                let n = term.len();
                if n > 0
                    && i + n <= low.len()
                    && low[i..i + n] == term[..]
                    && !word(chars.get(i + n))
                {
                    out.push_str(rep);
                    i += n;
                    continue 'outer;
                }
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

fn shift(v: &Value, days: Option<i64>) -> Value {
    let Some(days) = days else { return v.clone() };
    let shifted = v
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .and_then(|t| {
            t.with_timezone(&Utc)
                .checked_add_signed(Duration::try_days(days)?)
        });
    match shifted {
        Some(t) => Value::String(t.date_naive().to_string()),
        None => v.clone(),
    }
}

impl Vault {
    /// Builds the supervision export for `codes`.
    pub fn supervision_export(
        &mut self,
        codes: &[ClientCode],
        options: &SupervisionOptions,
    ) -> Result<SupervisionExport> {
        if codes.is_empty() {
            return Err(crate::CoreError::invalid("name at least one client code"));
        }
        if options
            .shift_days
            .is_some_and(|d| !(-MAX_SHIFT_DAYS..=MAX_SHIFT_DAYS).contains(&d))
        {
            return Err(crate::CoreError::invalid(format!(
                "shift dates by at most {MAX_SHIFT_DAYS} days either way"
            )));
        }
        self.act(Action::SupervisionExport, |cx| {
            // Every client's full name and aliases → their code; the exported clients' name
            // parts, email and phone too. Longest first, so "Ann Lee" wins over "Ann".
            let everyone: Vec<(String, Option<ClientIdentity>)> = {
                let mut stmt = cx.tx.prepare("SELECT code FROM identity.client_identity WHERE deleted = 0")?;
                let all: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
                all.into_iter()
                    .map(|c| {
                        let id = super::clients::identity_of(cx.tx, &c)?;
                        Ok((c, id))
                    })
                    .collect::<Result<_>>()?
            };
            let chosen: Vec<&str> = codes.iter().map(ClientCode::as_str).collect();
            let mut list: Vec<(Vec<char>, String)> = Vec::new();
            for (c, id) in &everyone {
                if let Some(id) = id {
                    // Names the client had before a correction (a maiden name, say).
                    let earlier: Vec<String> = cx
                        .tx
                        .prepare(
                            "SELECT old_value FROM identity.identity_history
                             WHERE code = ?1 AND field IN ('full_name', 'aliases') AND old_value IS NOT NULL",
                        )?
                        .query_map([c], |r| r.get::<_, String>(0))?
                        .collect::<rusqlite::Result<Vec<_>>>()?
                        .into_iter()
                        .flat_map(|v| {
                            serde_json::from_str::<Vec<String>>(&v).unwrap_or_else(|_| vec![v])
                        })
                        .collect();
                    list.extend(terms(c, id, chosen.contains(&c.as_str()), &earlier));
                }
            }
            list.sort_by_key(|b| std::cmp::Reverse(b.0.len()));

            let mut clients = Vec::new();
            let mut count = 0;
            for code in codes {
                require_client(cx.tx, code.as_str())?;
                let notes = rows(
                    cx.tx,
                    "SELECT id, template, body, status, created_at, finalised_at FROM session_notes
                     WHERE client_code = ?1 AND deleted = 0 ORDER BY created_at",
                    [code.as_str()],
                )?;
                let mut out_notes = Vec::new();
                for n in notes {
                    let id = n["id"].as_str().unwrap_or_default().to_string();
                    let wanted = match &options.note_ids {
                        Some(ids) => ids.contains(&id),
                        None => n["status"] == "final",
                    };
                    if !wanted {
                        continue;
                    }
                    let body: serde_json::Map<String, Value> = n["body"]
                        .as_str()
                        .and_then(|b| serde_json::from_str(b).ok())
                        .unwrap_or_default();
                    let fields: serde_json::Map<String, Value> = body
                        .into_iter()
                        .map(|(k, v)| (k, Value::String(pseudonymise(v.as_str().unwrap_or_default(), &list))))
                        .collect();
                    let addenda: Vec<Value> = rows(
                        cx.tx,
                        "SELECT text, created_at FROM addenda WHERE note_id = ?1 ORDER BY created_at",
                        [&id],
                    )?
                    .into_iter()
                    .map(|a| {
                        json!({
                            "written": shift(&a["created_at"], options.shift_days),
                            "text": pseudonymise(a["text"].as_str().unwrap_or_default(), &list),
                        })
                    })
                    .collect();
                    out_notes.push(json!({
                        "template": n["template"],
                        "status": n["status"],
                        "written": shift(&n["created_at"], options.shift_days),
                        "fields": fields,
                        "addenda": addenda,
                    }));
                    count += 1;
                }
                clients.push(json!({ "client": code.as_str(), "notes": out_notes }));
            }
            cx.detail(format!(
                "clients={} notes={count} dates_shifted={}",
                codes.len(),
                options.shift_days.is_some()
            ));
            Ok(SupervisionExport {
                content: json!({
                    "format": "casebook-supervision/1",
                    "dates_shifted": options.shift_days.is_some(),
                    "note": "Pseudonymised for clinical supervision: names replaced by client codes.",
                    "clients": clients,
                }),
                notes: count,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_words_in_any_case_are_replaced() {
        let who = ClientIdentity {
            full_name: "Ann-Marie Lee".into(),
            aliases: vec!["Annie".into()],
            email: Some("aml@example.org".into()),
            ..Default::default()
        };
        let mut t = terms("C-ABCD", &who, true, &["Ann-Marie Smith".into()]);
        t.sort_by_key(|b| std::cmp::Reverse(b.0.len()));
        let out = pseudonymise(
            "ANN-MARIE LEE said annie's sister (Lee) emailed aml@example.org; Smith, Leeds and annex untouched?",
            &t,
        );
        assert_eq!(
            out,
            "C-ABCD said C-ABCD's sister (C-ABCD) emailed C-ABCD; C-ABCD, Leeds and annex untouched?"
        );
    }
}
