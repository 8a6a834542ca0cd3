//! The right of access: subject-access requests (received, due one calendar month later,
//! answered) and the export bundle for one client — a JSON file with every item held about
//! them and a printable HTML document — with what was withheld listed separately.
//!
//! Process notes are the therapist's own reflections and are withheld by default; including
//! them is a deliberate choice, recorded in the audit trail. A redaction withholds a marked
//! passage of one item (it is replaced by "[withheld]" and listed).

use std::path::{Path, PathBuf};

use chrono::{Months, NaiveDate, Utc};
use rusqlite::params;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::require_client;
use super::rows::{Row, readable, rows};
use crate::audit::Action;
use crate::error::{CoreError, Result};
use crate::records::clients::ClientCode;
use crate::vault::{Vault, new_id};

/// A subject-access request.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct AccessRequest {
    pub id: String,
    pub client_code: String,
    pub full_name: Option<String>,
    pub received_on: NaiveDate,
    pub due_on: NaiveDate,
    pub status: String,
    pub answered_on: Option<NaiveDate>,
}

/// A passage to withhold from one item (a note, an addendum, a process note).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Redaction {
    pub item_id: String,
    pub passage: String,
    /// Why (e.g. "refers to a third party"); listed with what was withheld.
    pub reason: String,
}

/// What to put in the bundle.
#[derive(Clone, Debug, Default)]
pub struct AccessOptions {
    pub include_process_notes: bool,
    pub redactions: Vec<Redaction>,
    /// When the request was received (default: today, or the open request's date).
    pub received_on: Option<NaiveDate>,
}

/// The bundle written.
#[derive(Clone, Debug, Serialize)]
pub struct AccessExport {
    pub request: AccessRequest,
    pub folder: PathBuf,
    pub json: PathBuf,
    pub html: PathBuf,
    /// The bundle's content (what `json` holds).
    #[serde(skip)]
    pub content: Value,
}

/// One calendar month after `received` (the UK GDPR deadline).
pub fn due_date(received: NaiveDate) -> NaiveDate {
    received
        .checked_add_months(Months::new(1))
        .unwrap_or(received)
}

/// The id of the client's open request, if there is one.
fn open_request(tx: &rusqlite::Connection, code: &str) -> Option<String> {
    tx.query_row(
        "SELECT id FROM access_requests WHERE client_code = ?1 AND status = 'open' AND deleted = 0",
        [code],
        |r| r.get(0),
    )
    .ok()
}

fn read_request(tx: &rusqlite::Connection, id: &str) -> Result<AccessRequest> {
    let mut r = tx.query_row(
        "SELECT id, client_code, received_on, due_on, status, answered_on FROM access_requests WHERE id = ?1 AND deleted = 0",
        [id],
        |r| {
            Ok(AccessRequest {
                id: r.get(0)?,
                client_code: r.get(1)?,
                full_name: None,
                received_on: r.get(2)?,
                due_on: r.get(3)?,
                status: r.get(4)?,
                answered_on: r.get(5)?,
            })
        },
    )?;
    r.full_name = Vault::names_for(tx, &r.client_code)?;
    Ok(r)
}

impl Vault {
    /// Records a request received on `received_on` (refused if the client already has one
    /// open). Audited.
    pub fn open_access_request(
        &mut self,
        code: &ClientCode,
        received_on: NaiveDate,
    ) -> Result<AccessRequest> {
        self.act(Action::AccessRequestCreate, |cx| {
            require_client(cx.tx, code.as_str())?;
            if received_on > cx.now.with_timezone(&chrono::Local).date_naive() {
                return Err(CoreError::invalid("the request cannot be received in the future"));
            }
            if let Some(id) = open_request(cx.tx, code.as_str()) {
                return Err(CoreError::Conflict(format!(
                    "client {code} already has an open subject-access request ({id})"
                )));
            }
            let id = new_id();
            let hlc = cx.stamp();
            cx.tx.execute(
                "INSERT INTO access_requests (id, client_code, received_on, due_on, status, hlc, device_id)
                 VALUES (?1, ?2, ?3, ?4, 'open', ?5, ?6)",
                params![id, code.as_str(), received_on, due_date(received_on), hlc, cx.device_id],
            )?;
            cx.client(code.as_str());
            cx.object(&id);
            cx.detail("opened");
            read_request(cx.tx, &id)
        })
    }

    /// Subject-access requests, earliest due first (open ones only unless `all`). Audited.
    pub fn access_requests(&mut self, all: bool) -> Result<Vec<AccessRequest>> {
        self.act(Action::AccessRequestList, |cx| {
            let ids: Vec<String> = cx
                .tx
                .prepare(
                    "SELECT id FROM access_requests WHERE deleted = 0 AND (?1 OR status = 'open') ORDER BY due_on, id",
                )?
                .query_map([all], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let list = ids
                .iter()
                .map(|id| read_request(cx.tx, id))
                .collect::<Result<Vec<_>>>()?;
            cx.detail(format!("count={}", list.len()));
            Ok(list)
        })
    }

    /// Marks a request answered (the bundle was sent). Audited.
    pub fn answer_access_request(&mut self, id: &str) -> Result<AccessRequest> {
        self.act(Action::AccessRequestClose, |cx| {
            let req = read_request(cx.tx, id).map_err(|_| CoreError::NotFound {
                what: "subject-access request",
                id: id.to_string(),
                hint: "sar list --all",
            })?;
            let hlc = cx.stamp();
            let today = cx.now.with_timezone(&chrono::Local).date_naive();
            cx.tx.execute(
                "UPDATE access_requests SET status = 'answered', answered_on = ?2, hlc = ?3, device_id = ?4 WHERE id = ?1",
                params![id, today, hlc, cx.device_id],
            )?;
            cx.client(&req.client_code);
            cx.object(id);
            read_request(cx.tx, id)
        })
    }

    /// Writes the subject-access bundle for `code` into a new folder under `out`, and
    /// records (or reuses) the open request. Audited, with whether process notes were
    /// included and how many passages were withheld.
    pub fn subject_access_export(
        &mut self,
        code: &ClientCode,
        options: &AccessOptions,
        out: &Path,
    ) -> Result<AccessExport> {
        for r in &options.redactions {
            super::check_text("withheld passage", &r.passage, 20_000)?;
            super::check_text("reason for withholding", &r.reason, 500)?;
        }
        let (request, content) = self.act(Action::AccessRequestCreate, |cx| {
            require_client(cx.tx, code.as_str())?;
            let today = cx.now.with_timezone(&chrono::Local).date_naive();
            let request_id = match open_request(cx.tx, code.as_str()) {
                Some(id) => {
                    // The open request is answered; a different received date would be a
                    // second request, which has to be recorded as such.
                    let open = read_request(cx.tx, &id)?;
                    if let Some(r) = options.received_on
                        && r != open.received_on
                    {
                        return Err(CoreError::Conflict(format!(
                            "client {code} has an open request received {}: answer that one (leave out the received date) or mark it answered first",
                            open.received_on.format("%d/%m/%Y")
                        )));
                    }
                    id
                }
                None => {
                    let received = options.received_on.unwrap_or(today);
                    if received > today {
                        return Err(CoreError::invalid("the request cannot be received in the future"));
                    }
                    let id = new_id();
                    let hlc = cx.stamp();
                    cx.tx.execute(
                        "INSERT INTO access_requests (id, client_code, received_on, due_on, status, include_process_notes, hlc, device_id)
                         VALUES (?1, ?2, ?3, ?4, 'open', ?5, ?6, ?7)",
                        params![id, code.as_str(), received, due_date(received), options.include_process_notes, hlc, cx.device_id],
                    )?;
                    id
                }
            };
            let request = read_request(cx.tx, &request_id)?;
            let content = bundle(cx.tx, code.as_str(), &request, options)?;
            cx.client(code.as_str());
            cx.object(&request_id);
            cx.detail(format!(
                "export include_process_notes={} redactions={}",
                options.include_process_notes,
                options.redactions.len()
            ));
            Ok((request, content))
        })?;
        let folder = out.join(format!(
            "subject-access-{}-{}",
            code.as_str(),
            Utc::now().format("%Y-%m-%dT%H-%M-%S")
        ));
        std::fs::create_dir_all(&folder).map_err(CoreError::io(&folder))?;
        let json_path = folder.join("subject-access.json");
        let html_path = folder.join("subject-access.html");
        let pretty =
            serde_json::to_vec_pretty(&content).map_err(|e| CoreError::Corrupt(e.to_string()))?;
        crate::sealed::write_atomically(&json_path, &pretty)?;
        crate::sealed::write_atomically(
            &html_path,
            super::access_html::render(&content).as_bytes(),
        )?;
        Ok(AccessExport {
            request,
            folder,
            json: json_path,
            html: html_path,
            content,
        })
    }
}

/// Replaces each marked passage in `text` (for item `id`) and notes what was withheld.
fn redact(id: &str, text: &str, options: &AccessOptions, withheld: &mut Vec<Value>) -> String {
    let mut out = text.to_string();
    for r in options.redactions.iter().filter(|r| r.item_id == id) {
        if out.contains(&r.passage) {
            out = out.replace(&r.passage, "[withheld]");
            withheld.push(json!({"item": id, "what": "a passage", "reason": r.reason}));
        }
    }
    out
}

/// Whether a marked passage is, word for word, inside one text of the named item (a note's
/// field, an addendum, an included process note) of this client.
fn passage_is_in(
    tx: &rusqlite::Connection,
    code: &str,
    r: &Redaction,
    process_notes: bool,
) -> Result<bool> {
    let mut texts: Vec<String> = Vec::new();
    if let Ok(body) = tx.query_row(
        "SELECT body FROM session_notes WHERE id = ?1 AND client_code = ?2 AND deleted = 0",
        [&r.item_id, code],
        |row| row.get::<_, String>(0),
    ) {
        let fields: serde_json::Map<String, Value> =
            serde_json::from_str(&body).unwrap_or_default();
        texts.extend(
            fields
                .values()
                .filter_map(|v| v.as_str().map(str::to_string)),
        );
    }
    if let Ok(t) = tx.query_row(
        "SELECT text FROM addenda WHERE id = ?1 AND client_code = ?2",
        [&r.item_id, code],
        |row| row.get::<_, String>(0),
    ) {
        texts.push(t);
    }
    if process_notes
        && let Ok(t) = tx.query_row(
            "SELECT text FROM process_notes WHERE id = ?1 AND client_code = ?2 AND deleted = 0",
            [&r.item_id, code],
            |row| row.get::<_, String>(0),
        )
    {
        texts.push(t);
    }
    Ok(texts.iter().any(|t| t.contains(&r.passage)))
}

/// Everything held about one client, as one JSON document.
fn bundle(
    tx: &rusqlite::Connection,
    code: &str,
    request: &AccessRequest,
    options: &AccessOptions,
) -> Result<Value> {
    let mut withheld: Vec<Value> = Vec::new();
    let client = readable(rows(tx, "SELECT * FROM clients WHERE code = ?1", [code])?);
    let identity = readable(rows(
        tx,
        "SELECT * FROM identity.client_identity WHERE code = ?1 AND deleted = 0",
        [code],
    )?);
    let history = rows(
        tx,
        "SELECT changed_at, field, old_value, new_value, reason FROM identity.identity_history WHERE code = ?1 ORDER BY changed_at, n",
        [code],
    )?;
    let appointments = readable(rows(
        tx,
        "SELECT id, starts_at, ends_at, status FROM appointments WHERE client_code = ?1 AND deleted = 0 ORDER BY starts_at",
        [code],
    )?);
    let mut notes = readable(rows(
        tx,
        "SELECT id, appointment_id, template, body, status, created_at, updated_at, finalised_at FROM session_notes
         WHERE client_code = ?1 AND deleted = 0 ORDER BY created_at",
        [code],
    )?);
    for n in notes.iter_mut() {
        let id = n
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let body: serde_json::Map<String, Value> = n
            .get("body")
            .and_then(Value::as_str)
            .and_then(|b| serde_json::from_str(b).ok())
            .unwrap_or_default();
        let fields: serde_json::Map<String, Value> = body
            .into_iter()
            .map(|(k, v)| {
                let text = v.as_str().unwrap_or_default();
                (k, Value::String(redact(&id, text, options, &mut withheld)))
            })
            .collect();
        n.remove("body");
        n.insert("fields".into(), Value::Object(fields));
        let mut addenda = rows(
            tx,
            "SELECT id, text, created_at FROM addenda WHERE note_id = ?1 ORDER BY created_at",
            [&id],
        )?;
        for a in addenda.iter_mut() {
            let aid = a
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let text = a
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            a.insert(
                "text".into(),
                Value::String(redact(&aid, &text, options, &mut withheld)),
            );
        }
        n.insert(
            "addenda".into(),
            Value::Array(addenda.into_iter().map(Value::Object).collect()),
        );
    }
    let mut measures = readable(rows(
        tx,
        "SELECT id, instrument, items, total, band, risk, taken_at FROM outcome_measures WHERE client_code = ?1 AND deleted = 0 ORDER BY taken_at",
        [code],
    )?);
    for m in measures.iter_mut() {
        if let Some(items) = m
            .get("items")
            .and_then(Value::as_str)
            .and_then(|s| serde_json::from_str::<Value>(s).ok())
        {
            m.insert("items".into(), items);
        }
    }
    let process = readable(rows(
        tx,
        "SELECT id, text, created_at FROM process_notes WHERE client_code = ?1 AND deleted = 0 ORDER BY created_at",
        [code],
    )?);
    let process_notes = if options.include_process_notes {
        let mut p = process;
        for item in p.iter_mut() {
            let pid = item
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let text = item
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            item.insert(
                "text".into(),
                Value::String(redact(&pid, &text, options, &mut withheld)),
            );
        }
        Value::Array(p.into_iter().map(Value::Object).collect())
    } else {
        if !process.is_empty() {
            withheld.push(json!({
                "item": "process notes",
                "what": format!("{} process {}", process.len(), if process.len() == 1 { "note" } else { "notes" }),
                "reason": "the therapist's own reflections, kept apart from the clinical record (not included in this export)"
            }));
        }
        Value::Null
    };
    // A passage marked to withhold that was not found would be released: refuse instead.
    for r in &options.redactions {
        if !passage_is_in(tx, code, r, options.include_process_notes)? {
            return Err(CoreError::invalid(format!(
                "a passage to withhold was not found word for word in item {} (check spaces, line breaks and the item); nothing was exported",
                r.item_id
            )));
        }
    }
    let retention = rows(
        tx,
        "SELECT review_on, override_review_on, override_reason FROM client_retention WHERE client_code = ?1",
        [code],
    )?;
    let arr = |v: Vec<Row>| Value::Array(v.into_iter().map(Value::Object).collect());
    // Details that no longer read (say, from an imported file) must not stop the response.
    let practice = super::practice::read_profile(tx).unwrap_or_default();
    Ok(json!({
        "format": "casebook-subject-access/1",
        "generated_at": Utc::now(),
        "controller": {
            "practice_name": practice.practice_name,
            "therapist_name": practice.therapist_name,
            "registration": practice.registration(),
        },
        "request": {
            "id": request.id,
            "received_on": request.received_on,
            "due_on": request.due_on,
        },
        "client": client.into_iter().next().map(Value::Object).unwrap_or(Value::Null),
        "identity": identity.into_iter().next().map(Value::Object).unwrap_or(Value::Null),
        "identity_history": arr(history),
        "appointments": arr(appointments),
        "session_notes": arr(notes),
        "outcome_measures": arr(measures),
        "process_notes": process_notes,
        "retention": retention.into_iter().next().map(Value::Object).unwrap_or(Value::Null),
        "withheld": withheld,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_due_date_is_one_calendar_month_later() {
        let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(due_date(d("2026-03-14")), d("2026-04-14"));
        assert_eq!(due_date(d("2026-01-31")), d("2026-02-28"));
        assert_eq!(due_date(d("2026-12-15")), d("2027-01-15"));
    }
}
