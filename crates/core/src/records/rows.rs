//! Rows as JSON objects (column → value), for the exports that must hold *every* field of
//! a record — the subject-access bundle and the open-format export — without a hand-kept
//! list of columns that could fall behind the schema.

use rusqlite::types::ValueRef;
use serde_json::{Map, Value};

use crate::error::Result;

/// A row: column name → value (NULL → null, numbers as numbers, text as text, blobs as hex).
pub type Row = Map<String, Value>;

/// Runs `sql` with `params` and returns every row as an object.
pub(crate) fn rows(
    tx: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Row>> {
    let mut stmt = tx.prepare(sql)?;
    let names: Vec<String> = stmt.column_names().map(str::to_string).collect();
    let mut out = Vec::new();
    let mut q = stmt.query(params)?;
    while let Some(r) = q.next()? {
        let mut row = Map::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            row.insert(name.clone(), value(r.get_ref(i)?));
        }
        out.push(row);
    }
    Ok(out)
}

fn value(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::from(i),
        ValueRef::Real(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::String(hex::encode(b)),
    }
}

/// The same rows without the bookkeeping columns of sync (`hlc`, `device_id`, `deleted`),
/// for documents a person reads.
pub(crate) fn readable(mut rows: Vec<Row>) -> Vec<Row> {
    for r in rows.iter_mut() {
        for k in ["hlc", "device_id", "deleted"] {
            r.remove(k);
        }
    }
    rows
}
