//! Versioned schema migrations for both stores.
//!
//! Each store records its schema version in `PRAGMA user_version`. Migrations are applied
//! in order, each in its own transaction, and never edited once released: a change to the
//! schema is a new entry at the end of the list. Every table that will sync carries a
//! UUIDv7 `id`, an `hlc` stamp, the `device_id` that wrote it and a `deleted` tombstone flag.

use rusqlite::Connection;

use crate::error::{CoreError, Result};

/// The clinical store (`main`): codes, appointments, notes, measures, the audit log.
/// Never a name or a contact detail.
pub(crate) const CLINICAL: &[&str] = &[
    // v1: records, audit log, outbox.
    r#"
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

    CREATE TABLE clients (
        id TEXT PRIMARY KEY,
        code TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL CHECK (status IN ('active', 'closed')),
        opened_on TEXT NOT NULL,
        ended_on TEXT,
        hlc TEXT NOT NULL, device_id TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0
    );

    CREATE TABLE appointments (
        id TEXT PRIMARY KEY,
        client_code TEXT NOT NULL REFERENCES clients(code),
        starts_at TEXT NOT NULL,
        ends_at TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('scheduled', 'attended', 'cancelled', 'did_not_attend')),
        hlc TEXT NOT NULL, device_id TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0,
        CHECK (ends_at > starts_at)
    );
    CREATE INDEX appointments_by_client ON appointments(client_code, starts_at);

    CREATE TABLE session_notes (
        id TEXT PRIMARY KEY,
        client_code TEXT NOT NULL REFERENCES clients(code),
        appointment_id TEXT REFERENCES appointments(id),
        template TEXT NOT NULL CHECK (template IN ('soap', 'dap', 'birp', 'free')),
        body TEXT NOT NULL CHECK (json_valid(body)),
        status TEXT NOT NULL CHECK (status IN ('draft', 'final')),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        finalised_at TEXT,
        hlc TEXT NOT NULL, device_id TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX session_notes_by_client ON session_notes(client_code, created_at);
    CREATE TRIGGER session_notes_final_is_immutable BEFORE UPDATE ON session_notes
        WHEN OLD.status = 'final'
        BEGIN SELECT RAISE(ABORT, 'a finalised note is immutable: add an addendum'); END;
    CREATE TRIGGER session_notes_final_is_kept BEFORE DELETE ON session_notes
        WHEN OLD.status = 'final'
        BEGIN SELECT RAISE(ABORT, 'a finalised note cannot be deleted'); END;

    CREATE TABLE addenda (
        id TEXT PRIMARY KEY,
        note_id TEXT NOT NULL REFERENCES session_notes(id),
        client_code TEXT NOT NULL REFERENCES clients(code),
        text TEXT NOT NULL,
        created_at TEXT NOT NULL,
        hlc TEXT NOT NULL, device_id TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX addenda_by_note ON addenda(note_id, created_at);
    CREATE TRIGGER addenda_only_on_final_notes BEFORE INSERT ON addenda
        WHEN (SELECT status FROM session_notes WHERE id = NEW.note_id) IS NOT 'final'
        BEGIN SELECT RAISE(ABORT, 'addenda are added to finalised notes only'); END;
    CREATE TRIGGER addenda_are_immutable BEFORE UPDATE ON addenda
        BEGIN SELECT RAISE(ABORT, 'an addendum is immutable'); END;
    CREATE TRIGGER addenda_are_kept BEFORE DELETE ON addenda
        BEGIN SELECT RAISE(ABORT, 'an addendum cannot be deleted'); END;

    CREATE TABLE process_notes (
        id TEXT PRIMARY KEY,
        client_code TEXT NOT NULL REFERENCES clients(code),
        text TEXT NOT NULL,
        created_at TEXT NOT NULL,
        hlc TEXT NOT NULL, device_id TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX process_notes_by_client ON process_notes(client_code, created_at);

    CREATE TABLE outcome_measures (
        id TEXT PRIMARY KEY,
        client_code TEXT NOT NULL REFERENCES clients(code),
        instrument TEXT NOT NULL CHECK (instrument IN ('phq9', 'gad7', 'core10')),
        items TEXT NOT NULL CHECK (json_valid(items)),
        total REAL NOT NULL,
        band TEXT NOT NULL,
        risk INTEGER NOT NULL,
        taken_at TEXT NOT NULL,
        hlc TEXT NOT NULL, device_id TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX outcome_measures_by_client ON outcome_measures(client_code, taken_at);

    CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        device_id TEXT NOT NULL,
        action TEXT NOT NULL,
        client_code TEXT,
        object_id TEXT,
        detail TEXT,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

    CREATE TABLE sync_outbox (
        seq INTEGER PRIMARY KEY,
        row_table TEXT NOT NULL,
        row_id TEXT NOT NULL,
        op TEXT NOT NULL CHECK (op IN ('upsert', 'delete')),
        hlc TEXT NOT NULL,
        device_id TEXT NOT NULL
    );
    "#,
    // v2: full-text search over notes, addenda and process notes, kept by triggers.
    r#"
    CREATE VIRTUAL TABLE search_index USING fts5(
        body, kind UNINDEXED, object_id UNINDEXED, client_code UNINDEXED,
        tokenize = 'unicode61 remove_diacritics 2'
    );

    CREATE TRIGGER search_note_insert AFTER INSERT ON session_notes WHEN NEW.deleted = 0 BEGIN
        INSERT INTO search_index(body, kind, object_id, client_code)
        SELECT group_concat(value, ' '), 'note', NEW.id, NEW.client_code FROM json_each(NEW.body);
    END;
    CREATE TRIGGER search_note_update AFTER UPDATE ON session_notes BEGIN
        DELETE FROM search_index WHERE kind = 'note' AND object_id = OLD.id;
        INSERT INTO search_index(body, kind, object_id, client_code)
        SELECT group_concat(value, ' '), 'note', NEW.id, NEW.client_code FROM json_each(NEW.body)
        WHERE NEW.deleted = 0;
    END;
    CREATE TRIGGER search_addendum_insert AFTER INSERT ON addenda BEGIN
        INSERT INTO search_index(body, kind, object_id, client_code)
        VALUES (NEW.text, 'addendum', NEW.id, NEW.client_code);
    END;
    CREATE TRIGGER search_process_note_insert AFTER INSERT ON process_notes WHEN NEW.deleted = 0 BEGIN
        INSERT INTO search_index(body, kind, object_id, client_code)
        VALUES (NEW.text, 'process_note', NEW.id, NEW.client_code);
    END;
    CREATE TRIGGER search_process_note_update AFTER UPDATE ON process_notes BEGIN
        DELETE FROM search_index WHERE kind = 'process_note' AND object_id = OLD.id;
        INSERT INTO search_index(body, kind, object_id, client_code)
        SELECT NEW.text, 'process_note', NEW.id, NEW.client_code WHERE NEW.deleted = 0;
    END;

    INSERT INTO search_index(body, kind, object_id, client_code)
        SELECT (SELECT group_concat(value, ' ') FROM json_each(n.body)), 'note', n.id, n.client_code
        FROM session_notes n WHERE n.deleted = 0;
    INSERT INTO search_index(body, kind, object_id, client_code)
        SELECT text, 'addendum', id, client_code FROM addenda;
    INSERT INTO search_index(body, kind, object_id, client_code)
        SELECT text, 'process_note', id, client_code FROM process_notes WHERE deleted = 0;
    "#,
    // v3: appointments imported from a calendar carry a keyed hash of the event's identity
    // (never the UID itself) and where they came from, so a re-import recognises them.
    r#"
    ALTER TABLE appointments ADD COLUMN calendar_key TEXT;
    ALTER TABLE appointments ADD COLUMN calendar_source TEXT
        CHECK (calendar_source IS NULL OR calendar_source IN ('feed', 'file'));
    CREATE UNIQUE INDEX appointments_by_calendar_key ON appointments(calendar_key)
        WHERE calendar_key IS NOT NULL;
    "#,
    // v4: GDPR rights and retention. Erasure records (code, time, reason — never a name)
    // are kept for good. While a client is being erased (a row in `erasing`, inside the
    // erasing transaction only) their finalised notes and addenda may be deleted.
    r#"
    CREATE TABLE erasure_records (
        id TEXT PRIMARY KEY,
        client_code TEXT NOT NULL,
        erased_at TEXT NOT NULL,
        reason TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('erasure', 'retention')),
        certificate TEXT CHECK (certificate IS NULL OR json_valid(certificate)),
        hlc TEXT NOT NULL, device_id TEXT NOT NULL
    );
    CREATE INDEX erasure_records_by_code ON erasure_records(client_code);
    CREATE TRIGGER erasure_records_are_kept BEFORE DELETE ON erasure_records
        BEGIN SELECT RAISE(ABORT, 'erasure records are kept for good'); END;
    CREATE TRIGGER erasure_records_are_fixed BEFORE UPDATE ON erasure_records
        BEGIN SELECT RAISE(ABORT, 'an erasure record cannot be changed'); END;

    CREATE TABLE erasing (client_code TEXT PRIMARY KEY);
    DROP TRIGGER session_notes_final_is_kept;
    CREATE TRIGGER session_notes_final_is_kept BEFORE DELETE ON session_notes
        WHEN OLD.status = 'final'
         AND NOT EXISTS (SELECT 1 FROM erasing WHERE client_code = OLD.client_code)
        BEGIN SELECT RAISE(ABORT, 'a finalised note cannot be deleted'); END;
    DROP TRIGGER addenda_are_kept;
    CREATE TRIGGER addenda_are_kept BEFORE DELETE ON addenda
        WHEN NOT EXISTS (SELECT 1 FROM erasing WHERE client_code = OLD.client_code)
        BEGIN SELECT RAISE(ABORT, 'an addendum cannot be deleted'); END;

    CREATE TABLE client_retention (
        client_code TEXT PRIMARY KEY REFERENCES clients(code),
        review_on TEXT,
        basis TEXT,
        override_review_on TEXT,
        override_reason TEXT,
        hlc TEXT NOT NULL, device_id TEXT NOT NULL
    );

    CREATE TABLE access_requests (
        id TEXT PRIMARY KEY,
        client_code TEXT NOT NULL REFERENCES clients(code),
        received_on TEXT NOT NULL,
        due_on TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('open', 'answered')),
        answered_on TEXT,
        include_process_notes INTEGER NOT NULL DEFAULT 0,
        hlc TEXT NOT NULL, device_id TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX access_requests_open ON access_requests(status, due_on);

    -- The calendar keys (keyed hashes) of erased clients' sessions, so a feed that still
    -- lists them does not bring the client back.
    CREATE TABLE erased_calendar_keys (calendar_key TEXT PRIMARY KEY);

    -- Deleted rows leave the full-text index at once (not at a later segment merge).
    INSERT INTO search_index(search_index, rank) VALUES ('secure-delete', 1);
    "#,
    // v5: the live notes counted from a small index (a backup's manifest counts them; with
    // only the table to go by, SQLCipher decrypted every page of every note to count them).
    r#"
    CREATE INDEX session_notes_live ON session_notes(client_code) WHERE deleted = 0;
    "#,
    // v6: change capture for sync ([`crate::changes`]): the triggers that fill `sync_changes`
    // are made from the table registry at every open; `sync_applying` holds a row only
    // while remote changes are applied, so those are not captured again. Any delete of a
    // note, addendum or process note (not only erasure) takes its search entries with it.
    r#"
    DROP TABLE sync_outbox;
    CREATE TABLE sync_changes (
        seq INTEGER PRIMARY KEY,
        tbl TEXT NOT NULL,
        row_key TEXT NOT NULL,
        op TEXT NOT NULL CHECK (op IN ('upsert', 'delete')),
        fields TEXT,
        hlc TEXT
    );
    CREATE TABLE sync_applying (id INTEGER PRIMARY KEY CHECK (id = 1));
    CREATE TRIGGER search_note_delete AFTER DELETE ON session_notes BEGIN
        DELETE FROM search_index WHERE kind = 'note' AND object_id = OLD.id;
    END;
    CREATE TRIGGER search_addendum_delete AFTER DELETE ON addenda BEGIN
        DELETE FROM search_index WHERE kind = 'addendum' AND object_id = OLD.id;
    END;
    CREATE TRIGGER search_process_note_delete AFTER DELETE ON process_notes BEGIN
        DELETE FROM search_index WHERE kind = 'process_note' AND object_id = OLD.id;
    END;
    "#,
    // v7: merging changes from other devices ([`crate::merge`]). `sync_stamps` holds the
    // stamp of the last write to each field of each synced row (`*`: every field, when the
    // row was made), kept by the capture triggers for local writes and by the merge for
    // remote ones; `~` marks a row deleted for good. `sync_conflicts` keeps the value that
    // lost a merge, so no typed word is lost. While changes are applied, a finalised note
    // may be replaced only by a concurrent finalisation that wins the merge.
    r#"
    ALTER TABLE sync_changes ADD COLUMN bases TEXT CHECK (bases IS NULL OR json_valid(bases));
    CREATE TABLE sync_stamps (
        tbl TEXT NOT NULL, row_key TEXT NOT NULL, field TEXT NOT NULL,
        hlc TEXT NOT NULL, device_id TEXT NOT NULL,
        PRIMARY KEY (tbl, row_key, field)
    ) WITHOUT ROWID;
    CREATE TABLE sync_conflicts (
        id TEXT PRIMARY KEY,
        tbl TEXT NOT NULL,
        row_key TEXT NOT NULL,
        field TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('field', 'draft', 'edit_after_final', 'both_finalised', 'edit_after_delete')),
        kept TEXT,
        lost TEXT,
        lost_hlc TEXT NOT NULL,
        lost_device TEXT NOT NULL,
        found_at TEXT NOT NULL,
        resolved_at TEXT
    );
    DROP TRIGGER session_notes_final_is_immutable;
    CREATE TRIGGER session_notes_final_is_immutable BEFORE UPDATE ON session_notes
        WHEN OLD.status = 'final' AND NOT EXISTS (SELECT 1 FROM sync_applying)
        BEGIN SELECT RAISE(ABORT, 'a finalised note is immutable: add an addendum'); END;
    "#,
    // v8: the sync engine's bookkeeping on this computer ([`crate::sync_state`]): blobs
    // sealed and kept until the server acknowledges them (re-sent byte for byte after a
    // crash), and the engine's state (marks, chains, device list) as JSON.
    r#"
    CREATE TABLE sync_sealed (
        seq INTEGER PRIMARY KEY,
        bytes BLOB NOT NULL,
        acked INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE sync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    "#,
    // v9: the practice's other computers' audit trails ([`crate::audit_devices`]), one
    // chain per sending computer, kept read-only as this computer's own.
    r#"
    CREATE TABLE audit_remote (
        chain TEXT NOT NULL,
        seq INTEGER NOT NULL,
        at TEXT NOT NULL,
        device_id TEXT NOT NULL,
        action TEXT NOT NULL,
        client_code TEXT,
        object_id TEXT,
        detail TEXT,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        PRIMARY KEY (chain, seq)
    ) WITHOUT ROWID;
    CREATE INDEX audit_remote_by_time ON audit_remote(at);
    CREATE TRIGGER audit_remote_no_update BEFORE UPDATE ON audit_remote
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_remote_no_delete BEFORE DELETE ON audit_remote
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    "#,
    // v10: managing sessions ([`crate::records::appointments`]). Who cancelled (the client in
    // time, the client late, the therapist) and why (a short reason, never clinical text);
    // weekly series; and each move of a session kept as history.
    r#"
    ALTER TABLE appointments ADD COLUMN cancelled_by TEXT
        CHECK (cancelled_by IS NULL OR cancelled_by IN ('client', 'client_late', 'therapist'));
    ALTER TABLE appointments ADD COLUMN reason TEXT CHECK (reason IS NULL OR length(reason) <= 200);
    ALTER TABLE appointments ADD COLUMN series_id TEXT;
    CREATE INDEX appointments_by_series ON appointments(series_id, starts_at)
        WHERE series_id IS NOT NULL;
    CREATE INDEX appointments_by_start ON appointments(starts_at);
    CREATE TABLE appointment_series (
        id TEXT PRIMARY KEY,
        client_code TEXT NOT NULL REFERENCES clients(code),
        every_weeks INTEGER NOT NULL CHECK (every_weeks BETWEEN 1 AND 12),
        first_local TEXT NOT NULL,
        minutes INTEGER NOT NULL CHECK (minutes BETWEEN 1 AND 720),
        count INTEGER CHECK (count IS NULL OR count BETWEEN 1 AND 200),
        until_local TEXT,
        created_at TEXT NOT NULL,
        hlc TEXT NOT NULL, device_id TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE appointment_moves (
        id TEXT PRIMARY KEY,
        appointment_id TEXT NOT NULL REFERENCES appointments(id),
        client_code TEXT NOT NULL REFERENCES clients(code),
        from_starts_at TEXT NOT NULL,
        from_ends_at TEXT NOT NULL,
        to_starts_at TEXT NOT NULL,
        to_ends_at TEXT NOT NULL,
        moved_at TEXT NOT NULL,
        hlc TEXT NOT NULL, device_id TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX appointment_moves_by_appointment ON appointment_moves(appointment_id);
    "#,
    // v11: what the caseload and the to-do list ask, answered from indexes rather than by
    // reading every note and session: a session's note, the drafts, and a client's sessions
    // by status (covering the times the caseload reads).
    r#"
    CREATE INDEX session_notes_by_appointment ON session_notes(appointment_id)
        WHERE appointment_id IS NOT NULL;
    CREATE INDEX session_notes_drafts ON session_notes(client_code, created_at)
        WHERE status = 'draft' AND deleted = 0;
    CREATE INDEX appointments_by_client_status ON appointments(client_code, status, starts_at, ends_at)
        WHERE deleted = 0;
    "#,
    // v12: the UK starter templates (brief, assessment, contact, ending) join the note
    // templates. Only the `template` CHECK changes, and only to allow more: the table keeps
    // its rows, indexes and triggers ([`widen_note_templates`] edits its definition in place,
    // as SQLite documents for loosening a constraint).
    r#"
    SELECT 'widen_note_templates';
    "#,
    // v13: search that stays fast on a large practice. The index is rebuilt with
    // - `facets`: words for the client (`c` + code) and the entry's date (`y2026`, `m202601`,
    //   `d20260105`, UTC), so a search narrowed to a client or a range of dates is answered
    //   by the index rather than by looking up every match;
    // - `at`: the date a therapist knows the entry by (a note's session, else when written),
    //   kept when the session moves;
    // - prefix indexes for 1–4 characters, so the first letters typed of a word (which start
    //   many words) are one index lookup, not a merge of every word they start.
    // Only `body` is searched for what the person typed; relevance counts `body` alone.
    r#"
    DROP TRIGGER search_note_insert;
    DROP TRIGGER search_note_update;
    DROP TRIGGER search_addendum_insert;
    DROP TRIGGER search_process_note_insert;
    DROP TRIGGER search_process_note_update;
    DROP TABLE search_index;
    CREATE VIRTUAL TABLE search_index USING fts5(
        body, facets, kind UNINDEXED, object_id UNINDEXED, client_code UNINDEXED, at UNINDEXED,
        tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3 4'
    );
    INSERT INTO search_index(search_index, rank) VALUES ('secure-delete', 1);
    INSERT INTO search_index(search_index, rank) VALUES ('rank', 'bm25(1.0, 0.0)');

    -- What the index holds for each entry (`facets` in plain SQL, so that any SQLCipher
    -- tool writing to the store keeps the index right).
    CREATE VIEW search_source AS
        SELECT kind, object_id, client_code, body, at,
               'c' || lower(replace(client_code, '-', ''))
               || COALESCE(' y' || strftime('%Y', at) || ' m' || strftime('%Y%m', at)
                           || ' d' || strftime('%Y%m%d', at), '') AS facets
        FROM (
            SELECT 'note' AS kind, n.id AS object_id, n.client_code AS client_code,
                   (SELECT group_concat(value, ' ') FROM json_each(n.body)) AS body,
                   COALESCE((SELECT starts_at FROM appointments WHERE id = n.appointment_id),
                            n.created_at) AS at
              FROM session_notes n WHERE n.deleted = 0
            UNION ALL
            SELECT 'addendum', id, client_code, text, created_at FROM addenda
            UNION ALL
            SELECT 'process_note', id, client_code, text, created_at FROM process_notes
             WHERE deleted = 0
        );

    CREATE TRIGGER search_note_insert AFTER INSERT ON session_notes WHEN NEW.deleted = 0 BEGIN
        INSERT INTO search_index(body, facets, kind, object_id, client_code, at)
        SELECT body, facets, kind, object_id, client_code, at
        FROM search_source WHERE kind = 'note' AND object_id = NEW.id;
    END;
    CREATE TRIGGER search_note_update AFTER UPDATE ON session_notes BEGIN
        DELETE FROM search_index WHERE kind = 'note' AND object_id = OLD.id;
        INSERT INTO search_index(body, facets, kind, object_id, client_code, at)
        SELECT body, facets, kind, object_id, client_code, at
        FROM search_source WHERE kind = 'note' AND object_id = NEW.id;
    END;
    CREATE TRIGGER search_addendum_insert AFTER INSERT ON addenda BEGIN
        INSERT INTO search_index(body, facets, kind, object_id, client_code, at)
        SELECT body, facets, kind, object_id, client_code, at
        FROM search_source WHERE kind = 'addendum' AND object_id = NEW.id;
    END;
    CREATE TRIGGER search_process_note_insert AFTER INSERT ON process_notes WHEN NEW.deleted = 0 BEGIN
        INSERT INTO search_index(body, facets, kind, object_id, client_code, at)
        SELECT body, facets, kind, object_id, client_code, at
        FROM search_source WHERE kind = 'process_note' AND object_id = NEW.id;
    END;
    CREATE TRIGGER search_process_note_update AFTER UPDATE ON process_notes BEGIN
        DELETE FROM search_index WHERE kind = 'process_note' AND object_id = OLD.id;
        INSERT INTO search_index(body, facets, kind, object_id, client_code, at)
        SELECT body, facets, kind, object_id, client_code, at
        FROM search_source WHERE kind = 'process_note' AND object_id = NEW.id;
    END;
    -- A session moved: its note is now dated by the new time.
    CREATE TRIGGER search_session_moved AFTER UPDATE OF starts_at ON appointments
    WHEN NEW.starts_at IS NOT OLD.starts_at BEGIN
        DELETE FROM search_index WHERE kind = 'note' AND object_id IN
            (SELECT id FROM session_notes WHERE appointment_id = NEW.id);
        INSERT INTO search_index(body, facets, kind, object_id, client_code, at)
        SELECT body, facets, kind, object_id, client_code, at
        FROM search_source WHERE kind = 'note' AND object_id IN
            (SELECT id FROM session_notes WHERE appointment_id = NEW.id);
    END;

    INSERT INTO search_index(body, facets, kind, object_id, client_code, at)
        SELECT body, facets, kind, object_id, client_code, at
        FROM search_source ORDER BY at;
    "#,
    // v14: a note may say there is a risk or safeguarding concern (`flagged`) or that one was
    // reviewed and is no longer current (`cleared`); a client's flag is their latest such
    // note's ([`crate::records::risk`]), found from a small index.
    r#"
    ALTER TABLE session_notes ADD COLUMN risk TEXT CHECK (risk IN ('flagged', 'cleared'));
    CREATE INDEX session_notes_risk ON session_notes(client_code, created_at)
        WHERE risk IS NOT NULL AND deleted = 0;
    "#,
    // v15: a change made on another computer after a client was erased here is dropped — and
    // now listed too (kind `erased`: when, where, which client's code; never what it held),
    // so the therapist can see that something typed elsewhere did not survive the erasure.
    r#"
    CREATE TABLE sync_conflicts_v15 (
        id TEXT PRIMARY KEY,
        tbl TEXT NOT NULL,
        row_key TEXT NOT NULL,
        field TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('field', 'draft', 'edit_after_final', 'both_finalised', 'edit_after_delete', 'erased')),
        kept TEXT,
        lost TEXT,
        lost_hlc TEXT NOT NULL,
        lost_device TEXT NOT NULL,
        found_at TEXT NOT NULL,
        resolved_at TEXT,
        client_code TEXT
    );
    INSERT INTO sync_conflicts_v15 (id, tbl, row_key, field, kind, kept, lost, lost_hlc, lost_device, found_at, resolved_at)
        SELECT id, tbl, row_key, field, kind, kept, lost, lost_hlc, lost_device, found_at, resolved_at FROM sync_conflicts;
    DROP TABLE sync_conflicts;
    ALTER TABLE sync_conflicts_v15 RENAME TO sync_conflicts;
    "#,
    // v16: one session clock across the practice's computers. Each session started on the
    // clock is a row here (times and an appointment id, never who): synced, so another
    // computer shows it running and can end it. The clock itself stays this computer's
    // (`session-clock.json`).
    r#"
    CREATE TABLE session_runs (
        id TEXT PRIMARY KEY,
        appointment_id TEXT,
        started_on TEXT NOT NULL,
        started_at TEXT NOT NULL,
        ends_at TEXT NOT NULL,
        ended_at TEXT,
        hlc TEXT NOT NULL, device_id TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX session_runs_by_start ON session_runs(started_at);
    "#,
    // v17: the practice's re-keyings (`crate::key_ring`): each generation's clinical backup
    // identity and practice root seed, and the digest of the `recovery.age` it replaced.
    // Device-local; the identity half is in the identity store (its v7).
    r#"
    CREATE TABLE key_ring (
        generation INTEGER PRIMARY KEY,
        backup_identity TEXT NOT NULL,
        root_seed TEXT NOT NULL,
        replaces_recovery TEXT NOT NULL,
        backups TEXT NOT NULL DEFAULT '[]'
    );
    "#,
];

/// The templates' CHECK before and after v12.
const TEMPLATES_V1: &str = "template IN ('soap', 'dap', 'birp', 'free')";
const TEMPLATES_V12: &str =
    "template IN ('soap', 'dap', 'birp', 'free', 'brief', 'assessment', 'contact', 'ending')";

/// v12's change, in the migration's transaction: the session notes' `template` CHECK widened
/// in the stored table definition (SQLite's documented procedure for loosening a constraint:
/// every existing row already satisfies it), and the schema version bumped so every
/// connection reads the new definition. Fails, changing nothing, if the definition is not the
/// one v1 wrote.
fn widen_note_templates(tx: &rusqlite::Transaction<'_>) -> Result<()> {
    let version: i64 = tx.query_row("PRAGMA main.schema_version", [], |r| r.get(0))?;
    tx.execute_batch("PRAGMA main.writable_schema = ON")?;
    let changed = tx.execute(
        "UPDATE main.sqlite_master SET sql = replace(sql, ?1, ?2)
         WHERE type = 'table' AND name = 'session_notes' AND instr(sql, ?1) > 0",
        [TEMPLATES_V1, TEMPLATES_V12],
    );
    tx.execute_batch("PRAGMA main.writable_schema = OFF")?;
    if changed? != 1 {
        return Err(CoreError::Corrupt(
            "the session notes table is not as Casebook made it: its templates cannot be widened"
                .into(),
        ));
    }
    tx.execute_batch(&format!("PRAGMA main.schema_version = {}", version + 1))?;
    Ok(())
}

/// The identity store (`identity`): code → name and contact details, and the audit chain head.
pub(crate) const IDENTITY: &[&str] = &[
    // v1
    r#"
    CREATE TABLE identity.client_identity (
        code TEXT PRIMARY KEY,
        full_name TEXT NOT NULL,
        date_of_birth TEXT,
        email TEXT,
        phone TEXT,
        emergency_contact TEXT,
        gp TEXT,
        hlc TEXT NOT NULL, device_id TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE identity.audit_head (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        count INTEGER NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE TABLE identity.sync_outbox (
        seq INTEGER PRIMARY KEY,
        row_table TEXT NOT NULL,
        row_id TEXT NOT NULL,
        op TEXT NOT NULL CHECK (op IN ('upsert', 'delete')),
        hlc TEXT NOT NULL,
        device_id TEXT NOT NULL
    );
    "#,
    // v2: the calendar feed address (a secret: it reads the whole calendar). One row; kept
    // on this device only (not synced); deleted outright on disconnect (secure_delete).
    r#"
    CREATE TABLE identity.calendar_feed (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        url TEXT NOT NULL,
        auto_refresh INTEGER NOT NULL DEFAULT 0,
        connected_at TEXT NOT NULL,
        last_refreshed TEXT
    );
    "#,
    // v3: rectification keeps what a detail said before; known aliases (for pseudonymising
    // supervision exports).
    r#"
    ALTER TABLE identity.client_identity ADD COLUMN aliases TEXT
        CHECK (aliases IS NULL OR json_valid(aliases));
    CREATE TABLE identity.identity_history (
        id INTEGER PRIMARY KEY,
        code TEXT NOT NULL,
        changed_at TEXT NOT NULL,
        field TEXT NOT NULL,
        old_value TEXT,
        new_value TEXT,
        reason TEXT
    );
    CREATE INDEX identity.identity_history_by_code ON identity_history(code, id);
    "#,
    // v4: change capture (as clinical v6). Identity history gets ids that cannot collide
    // across devices (UUIDs, not integers); its order is kept by `changed_at` then `n`.
    r#"
    DROP TABLE identity.sync_outbox;
    CREATE TABLE identity.sync_changes (
        seq INTEGER PRIMARY KEY,
        tbl TEXT NOT NULL,
        row_key TEXT NOT NULL,
        op TEXT NOT NULL CHECK (op IN ('upsert', 'delete')),
        fields TEXT,
        hlc TEXT
    );
    CREATE TABLE identity.sync_applying (id INTEGER PRIMARY KEY CHECK (id = 1));
    CREATE TABLE identity.identity_history_v4 (
        id TEXT PRIMARY KEY,
        n INTEGER NOT NULL DEFAULT 0,
        code TEXT NOT NULL,
        changed_at TEXT NOT NULL,
        field TEXT NOT NULL,
        old_value TEXT,
        new_value TEXT,
        reason TEXT,
        hlc TEXT NOT NULL DEFAULT '', device_id TEXT NOT NULL DEFAULT ''
    );
    INSERT INTO identity.identity_history_v4 (id, n, code, changed_at, field, old_value, new_value, reason)
        SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' ||
                     substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),
               id, code, changed_at, field, old_value, new_value, reason
        FROM identity.identity_history;
    DROP TABLE identity.identity_history;
    ALTER TABLE identity.identity_history_v4 RENAME TO identity_history;
    CREATE INDEX identity.identity_history_by_code ON identity_history(code, changed_at, n);
    "#,
    // v5: per-field stamps for merging (as clinical v7).
    r#"
    ALTER TABLE identity.sync_changes ADD COLUMN bases TEXT CHECK (bases IS NULL OR json_valid(bases));
    CREATE TABLE identity.sync_stamps (
        tbl TEXT NOT NULL, row_key TEXT NOT NULL, field TEXT NOT NULL,
        hlc TEXT NOT NULL, device_id TEXT NOT NULL,
        PRIMARY KEY (tbl, row_key, field)
    ) WITHOUT ROWID;
    "#,
    // v6: the client's NHS number (optional; ten digits, checked by the core).
    r#"
    ALTER TABLE identity.client_identity ADD COLUMN nhs_number TEXT;
    "#, // v7: the identity half of the practice's re-keyings (clinical v17).
    r#"
    CREATE TABLE identity.key_ring (
        generation INTEGER PRIMARY KEY,
        backup_identity TEXT NOT NULL
    );
    "#,
];

/// Brings the `schema` database of `conn` from its version up to `target` (at most the
/// number of migrations given). Returns the version it started from.
pub(crate) fn migrate_to(
    conn: &mut Connection,
    schema: &str,
    migrations: &[&str],
    target: usize,
) -> Result<i64> {
    let found: i64 = conn.query_row(&format!("PRAGMA {schema}.user_version"), [], |r| r.get(0))?;
    let known = migrations.len() as i64;
    if found > known {
        return Err(CoreError::SchemaTooNew { found, known });
    }
    for (i, sql) in migrations
        .iter()
        .enumerate()
        .take(target)
        .skip(found as usize)
    {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        if schema == "main" && sql.contains("'widen_note_templates'") {
            widen_note_templates(&tx)?;
        }
        tx.execute_batch(&format!("PRAGMA {schema}.user_version = {}", i + 1))?;
        tx.commit()?;
    }
    Ok(found)
}

/// Refuses stores made by a newer Casebook, without changing anything.
pub(crate) fn check_not_newer(conn: &Connection) -> Result<()> {
    for (schema, migrations) in [("main", CLINICAL), ("identity", IDENTITY)] {
        let found: i64 =
            conn.query_row(&format!("PRAGMA {schema}.user_version"), [], |r| r.get(0))?;
        let known = migrations.len() as i64;
        if found > known {
            return Err(CoreError::SchemaTooNew { found, known });
        }
    }
    Ok(())
}

/// Brings both stores to the latest schema.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    migrate_to(conn, "main", CLINICAL, CLINICAL.len())?;
    migrate_to(conn, "identity", IDENTITY, IDENTITY.len())?;
    crate::changes::install(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("ATTACH DATABASE ':memory:' AS identity")
            .unwrap();
        conn
    }

    /// A vault made at schema v1 (before search existed) keeps its notes and gains a
    /// search index over them when migrated.
    #[test]
    fn migrating_from_v1_keeps_data_and_indexes_existing_notes() {
        let mut conn = fresh();
        migrate_to(&mut conn, "main", CLINICAL, 1).unwrap();
        migrate_to(&mut conn, "identity", IDENTITY, 1).unwrap();
        conn.execute_batch(
            r#"INSERT INTO clients (id, code, status, opened_on, hlc, device_id) VALUES ('c1', 'C-AAAA', 'active', '2026-01-01', 'h', 'd');
               INSERT INTO session_notes (id, client_code, template, body, status, created_at, updated_at, hlc, device_id)
               VALUES ('n1', 'C-AAAA', 'soap', '{"subjective":"sleeping badly since the move","plan":"review"}', 'final', 't', 't', 'h', 'd');
               INSERT INTO addenda (id, note_id, client_code, text, created_at, hlc, device_id) VALUES ('a1', 'n1', 'C-AAAA', 'correction about insomnia', 't', 'h', 'd');"#,
        )
        .unwrap();
        let from = migrate_to(&mut conn, "main", CLINICAL, CLINICAL.len()).unwrap();
        assert_eq!(from, 1);
        let v: i64 = conn
            .query_row("PRAGMA main.user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, CLINICAL.len() as i64);
        let hits: Vec<String> = conn
            .prepare("SELECT object_id FROM search_index WHERE search_index MATCH 'sleeping OR insomnia' ORDER BY object_id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(hits, vec!["a1", "n1"]);
        // Running again is a no-op.
        assert_eq!(
            migrate_to(&mut conn, "main", CLINICAL, CLINICAL.len()).unwrap(),
            CLINICAL.len() as i64
        );
    }

    /// Any delete — a discarded draft, a process note — takes its search entries with it,
    /// not only erasure.
    #[test]
    fn deleting_a_row_removes_its_search_entries() {
        let mut conn = fresh();
        migrate(&mut conn).unwrap();
        conn.execute_batch(
            r#"INSERT INTO clients (id, code, status, opened_on, hlc, device_id) VALUES ('c1', 'C-AAAA', 'active', '2026-01-01', 'h', 'd');
               INSERT INTO session_notes (id, client_code, template, body, status, created_at, updated_at, hlc, device_id)
               VALUES ('n1', 'C-AAAA', 'free', '{"text":"insomnia"}', 'draft', 't', 't', 'h', 'd');
               INSERT INTO process_notes (id, client_code, text, created_at, hlc, device_id) VALUES ('p1', 'C-AAAA', 'insomnia again', 't', 'h', 'd');"#,
        )
        .unwrap();
        let hits = |c: &Connection| -> i64 {
            c.query_row(
                "SELECT count(*) FROM search_index WHERE search_index MATCH 'insomnia'",
                [],
                |r| r.get(0),
            )
            .unwrap()
        };
        assert_eq!(hits(&conn), 2);
        conn.execute_batch(
            "DELETE FROM session_notes WHERE id = 'n1'; DELETE FROM process_notes WHERE id = 'p1';",
        )
        .unwrap();
        assert_eq!(hits(&conn), 0);
    }

    /// v12 widens the templates a note may have, in place: a store made before keeps its
    /// notes, their search entries and the immutability of finalised ones, and now takes the
    /// UK starter templates — but still nothing else.
    #[test]
    fn v12_lets_notes_use_the_uk_templates_and_keeps_everything_else() {
        let mut conn = fresh();
        migrate_to(&mut conn, "main", CLINICAL, 11).unwrap();
        migrate_to(&mut conn, "identity", IDENTITY, IDENTITY.len()).unwrap();
        let note = |id: &str, template: &str, status: &str| {
            format!(
                "INSERT INTO session_notes (id, client_code, template, body, status, created_at, updated_at, hlc, device_id)
                 VALUES ('{id}', 'C-AAAA', '{template}', '{{\"text\":\"harbour\"}}', '{status}', 't', 't', 'h', 'd')"
            )
        };
        conn.execute_batch(
            "INSERT INTO clients (id, code, status, opened_on, hlc, device_id) VALUES ('c1', 'C-AAAA', 'active', '2026-01-01', 'h', 'd');",
        )
        .unwrap();
        conn.execute_batch(&note("n1", "soap", "final")).unwrap();
        assert!(
            conn.execute_batch(&note("n0", "brief", "draft")).is_err(),
            "v11 knows no brief notes"
        );

        assert_eq!(migrate_to(&mut conn, "main", CLINICAL, 12).unwrap(), 11);
        for (id, t) in [
            ("n2", "brief"),
            ("n3", "assessment"),
            ("n4", "contact"),
            ("n5", "ending"),
        ] {
            conn.execute_batch(&note(id, t, "draft")).unwrap();
        }
        assert!(
            conn.execute_batch(&note("n6", "poem", "draft")).is_err(),
            "still only the templates there are"
        );
        let hits: i64 = conn
            .query_row(
                "SELECT count(*) FROM search_index WHERE search_index MATCH 'harbour'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(hits, 5, "the old note and the new ones are all searchable");
        assert!(
            conn.execute("UPDATE session_notes SET body = '{}' WHERE id = 'n1'", [])
                .is_err(),
            "a finalised note is still immutable"
        );
        let check: String = conn
            .query_row("PRAGMA main.integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
    }

    /// v13 rebuilds the index with each entry's client and date as index words, and keeps
    /// a note's date with its session when the session moves.
    #[test]
    fn v13_indexes_client_and_date_and_follows_a_moved_session() {
        let mut conn = fresh();
        migrate_to(&mut conn, "main", CLINICAL, 12).unwrap();
        migrate_to(&mut conn, "identity", IDENTITY, IDENTITY.len()).unwrap();
        conn.execute_batch(
            r#"INSERT INTO clients (id, code, status, opened_on, hlc, device_id) VALUES ('c1', 'C-AB2C', 'active', '2026-01-01', 'h', 'd');
               INSERT INTO appointments (id, client_code, starts_at, ends_at, status, hlc, device_id)
               VALUES ('s1', 'C-AB2C', '2027-01-12 10:00:00+00:00', '2027-01-12 10:50:00+00:00', 'attended', 'h', 'd');
               INSERT INTO session_notes (id, client_code, appointment_id, template, body, status, created_at, updated_at, hlc, device_id)
               VALUES ('n1', 'C-AB2C', 's1', 'free', '{"text":"harbour"}', 'final', '2027-02-01 09:00:00.123456+00:00', 't', 'h', 'd');
               INSERT INTO process_notes (id, client_code, text, created_at, hlc, device_id)
               VALUES ('p1', 'C-AB2C', 'harbour too', 'not a date', 'h', 'd');"#,
        )
        .unwrap();
        migrate_to(&mut conn, "main", CLINICAL, 13).unwrap();
        let found = |q: &str| -> Vec<String> {
            conn.prepare(
                "SELECT object_id FROM search_index WHERE search_index MATCH ?1 ORDER BY object_id",
            )
            .unwrap()
            .query_map([q], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
        };
        assert_eq!(found("body : harbour AND facets : ccab2c"), ["n1", "p1"]);
        // Dated by its session, not by when it was written; an entry without a readable date
        // is still found by client.
        assert_eq!(found("body : harbour AND facets : d20270112"), ["n1"]);
        assert_eq!(
            found("body : harbour AND facets : (m202701 OR y2027)"),
            ["n1"]
        );
        assert!(found("facets : m202702").is_empty());
        assert!(
            found("body : ccab2c").is_empty(),
            "typed words search the text only"
        );

        conn.execute_batch(
            "UPDATE appointments SET starts_at = '2027-03-02 10:00:00+00:00', ends_at = '2027-03-02 10:50:00+00:00' WHERE id = 's1'",
        )
        .unwrap();
        assert!(found("facets : m202701").is_empty());
        assert_eq!(found("body : harbour AND facets : d20270302"), ["n1"]);
        assert_eq!(found("harbour").len(), 2, "one entry each, still");
        let check: String = conn
            .query_row("PRAGMA main.integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let mut conn = fresh();
        conn.execute_batch("PRAGMA main.user_version = 99").unwrap();
        assert!(matches!(
            migrate(&mut conn),
            Err(CoreError::SchemaTooNew { found: 99, .. })
        ));
    }

    #[test]
    fn triggers_keep_finalised_notes_and_the_audit_log_unchanged() {
        let mut conn = fresh();
        migrate(&mut conn).unwrap();
        conn.execute_batch(
            r#"INSERT INTO clients (id, code, status, opened_on, hlc, device_id) VALUES ('c1', 'C-AAAA', 'active', '2026-01-01', 'h', 'd');
               INSERT INTO session_notes (id, client_code, template, body, status, created_at, updated_at, hlc, device_id)
               VALUES ('n1', 'C-AAAA', 'free', '{"text":"x"}', 'final', 't', 't', 'h', 'd');
               INSERT INTO audit_log (seq, at, device_id, action, prev_hash, hash) VALUES (1, 't', 'd', 'a', 'p', 'h');"#,
        )
        .unwrap();
        for sql in [
            "UPDATE session_notes SET body = '{\"text\":\"y\"}' WHERE id = 'n1'",
            "DELETE FROM session_notes WHERE id = 'n1'",
            "UPDATE audit_log SET action = 'b'",
            "DELETE FROM audit_log",
        ] {
            assert!(conn.execute(sql, []).is_err(), "{sql} should be refused");
        }
    }
}
