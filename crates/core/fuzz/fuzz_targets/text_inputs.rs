//! Every parser of text a person types or a script passes: none may panic, and what they
//! accept must be well-formed.
#![no_main]

use casebook_core::records::measures::{parse_items, score};
use casebook_core::{
    ClientCode, Instrument, NoteTemplate, RecoveryKey, parse_date, search::fts_query,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(k) = RecoveryKey::parse(s) {
        assert_eq!(RecoveryKey::parse(k.as_str()).ok(), Some(k));
    }
    if let Ok(items) = parse_items(s) {
        for inst in [Instrument::Phq9, Instrument::Gad7, Instrument::Core10] {
            if let Ok(sc) = score(inst, &items) {
                assert!(sc.total >= 0.0 && sc.total <= inst.max_total());
            }
        }
    }
    if let Ok(c) = ClientCode::parse(s) {
        assert_eq!(c.as_str().len(), 6);
    }
    if let Ok(q) = fts_query(s) {
        assert!(q.starts_with('"'));
    }
    let _ = NoteTemplate::parse(s);
    let _ = Instrument::parse(s);
    let _ = parse_date(s);
    let _ = casebook_core::hlc::Hlc::parse(s);
});
