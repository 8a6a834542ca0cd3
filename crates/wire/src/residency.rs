//! Where data may be kept: the United Kingdom and the EU/EEA. The server refuses to start
//! with a storage location anywhere else, and the app refuses a server whose `/v1/info`
//! names anywhere else — one list, so the two cannot disagree.

/// ISO 3166-1 alpha-2 codes accepted, with the names shown to people: the UK, the 27 EU
/// member states, and Iceland, Liechtenstein and Norway (EEA).
pub const ALLOWED: &[(&str, &str)] = &[
    ("GB", "United Kingdom"),
    ("AT", "Austria"),
    ("BE", "Belgium"),
    ("BG", "Bulgaria"),
    ("HR", "Croatia"),
    ("CY", "Cyprus"),
    ("CZ", "Czechia"),
    ("DK", "Denmark"),
    ("EE", "Estonia"),
    ("FI", "Finland"),
    ("FR", "France"),
    ("DE", "Germany"),
    ("GR", "Greece"),
    ("HU", "Hungary"),
    ("IE", "Ireland"),
    ("IT", "Italy"),
    ("LV", "Latvia"),
    ("LT", "Lithuania"),
    ("LU", "Luxembourg"),
    ("MT", "Malta"),
    ("NL", "Netherlands"),
    ("PL", "Poland"),
    ("PT", "Portugal"),
    ("RO", "Romania"),
    ("SK", "Slovakia"),
    ("SI", "Slovenia"),
    ("ES", "Spain"),
    ("SE", "Sweden"),
    ("IS", "Iceland"),
    ("LI", "Liechtenstein"),
    ("NO", "Norway"),
];

/// The country's name if it is in the UK or the EU/EEA.
pub fn allowed_country(code: &str) -> Option<&'static str> {
    let code = code.trim().to_ascii_uppercase();
    let code = if code == "UK" { "GB".to_string() } else { code };
    ALLOWED
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, name)| *name)
}
