//! The UK/EU residency guard: every storage location must be declared, and must be in the
//! United Kingdom or the EU/EEA, or the server refuses to start.

/// ISO 3166-1 alpha-2 codes accepted, with the names shown to people: the UK, the 27 EU
/// member states, and Iceland, Liechtenstein and Norway (EEA).
const ALLOWED: &[(&str, &str)] = &[
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

/// Checks one declared location; the error is one line naming the setting.
pub fn check(setting: &str, country: Option<&str>) -> Result<&'static str, String> {
    match country {
        None => Err(format!(
            "{setting} is not set: declare the country where this storage lives (e.g. --country GB); only UK and EU/EEA locations are accepted"
        )),
        Some(c) => allowed_country(c).ok_or_else(|| {
            format!("{setting} = {c} is outside the UK and the EU/EEA: refusing to start")
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uk_and_eea_pass_others_fail() {
        assert_eq!(check("storage.country", Some("gb")), Ok("United Kingdom"));
        assert_eq!(check("storage.country", Some("UK")), Ok("United Kingdom"));
        assert_eq!(check("storage.country", Some("NO")), Ok("Norway"));
        for bad in ["US", "CH", "CN", "", "GBR"] {
            let e = check("storage.country", Some(bad)).unwrap_err();
            assert!(
                e.contains("storage.country") && e.contains("refusing"),
                "{e}"
            );
        }
        assert!(
            check("storage.country", None)
                .unwrap_err()
                .contains("not set")
        );
    }
}
