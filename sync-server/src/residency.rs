//! The UK/EU residency guard: every storage location must be declared, and must be in the
//! United Kingdom or the EU/EEA, or the server refuses to start.

/// The country's name if it is in the UK or the EU/EEA (one list, shared with the app,
/// which refuses a server that names any other place).
pub use casebook_wire::residency::allowed_country;

/// Provider regions whose country is known, with the place shown to people. A region named
/// here fixes the country: a US region is refused even if someone also writes `country =
/// "GB"`. Regions not listed (a self-hosted Garage's own region name, say) need `country`.
const KNOWN_REGIONS: &[(&str, &str, &str)] = &[
    // AWS (and S3-compatible services that reuse its names)
    ("eu-west-2", "GB", "London"),
    ("eu-west-1", "IE", "Dublin"),
    ("eu-west-3", "FR", "Paris"),
    ("eu-central-1", "DE", "Frankfurt"),
    ("eu-north-1", "SE", "Stockholm"),
    ("eu-south-1", "IT", "Milan"),
    ("eu-south-2", "ES", "Aragón"),
    ("eu-central-2", "CH", "Zurich"),
    ("us-east-1", "US", "N. Virginia"),
    ("us-east-2", "US", "Ohio"),
    ("us-west-1", "US", "N. California"),
    ("us-west-2", "US", "Oregon"),
    ("ca-central-1", "CA", "Montreal"),
    ("ap-southeast-2", "AU", "Sydney"),
    // Google Cloud
    ("europe-west2", "GB", "London"),
    ("europe-west1", "BE", "St. Ghislain"),
    ("europe-west3", "DE", "Frankfurt"),
    ("europe-west4", "NL", "Eemshaven"),
    ("us-central1", "US", "Iowa"),
    // Scaleway, Hetzner, OVHcloud
    ("fr-par", "FR", "Paris"),
    ("nl-ams", "NL", "Amsterdam"),
    ("pl-waw", "PL", "Warsaw"),
    ("fsn1", "DE", "Falkenstein"),
    ("nbg1", "DE", "Nuremberg"),
    ("hel1", "FI", "Helsinki"),
    ("gra", "FR", "Gravelines"),
    ("sbg", "FR", "Strasbourg"),
    ("uk", "GB", "London"),
];

/// The country and place of a known provider region.
pub fn region(name: &str) -> Option<(&'static str, &'static str)> {
    let name = name.trim().to_ascii_lowercase();
    KNOWN_REGIONS
        .iter()
        .find(|(r, _, _)| *r == name)
        .map(|(_, c, p)| (*c, *p))
}

/// Where one storage location is, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// ISO code, upper case (`GB`).
    pub country: String,
    /// The country's name.
    pub country_name: &'static str,
    /// A place from the region table, when the region is known.
    pub place: Option<&'static str>,
}

/// Checks a location declared by `{prefix}.country` and/or `{prefix}.region`: a known region
/// decides the country (and must agree with a declared one); otherwise the country must be
/// declared. The error is one line naming the offending setting.
pub fn check_location(
    prefix: &str,
    country: Option<&str>,
    region_name: Option<&str>,
) -> Result<Checked, String> {
    if let Some(r) = region_name
        && let Some((code, place)) = region(r)
    {
        let Some(name) = allowed_country(code) else {
            return Err(format!(
                "{prefix}.region = {r} is in {code}, outside the UK and the EU/EEA: refusing to start"
            ));
        };
        if let Some(c) = country
            && allowed_country(c) != Some(name)
        {
            return Err(format!(
                "{prefix}.country = {c} does not match {prefix}.region = {r} (which is in {code}): refusing to start"
            ));
        }
        return Ok(Checked {
            country: code.to_string(),
            country_name: name,
            place: Some(place),
        });
    }
    check_country(&format!("{prefix}.country"), country)
}

/// A location declared by its country alone (the setting named `setting`).
pub fn check_country(setting: &str, country: Option<&str>) -> Result<Checked, String> {
    let name = check(setting, country)?;
    let code = country.unwrap_or_default().trim().to_ascii_uppercase();
    Ok(Checked {
        country: if code == "UK" { "GB".into() } else { code },
        country_name: name,
        place: None,
    })
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
    fn a_known_region_decides_the_country() {
        let london = check_location("object_store", None, Some("eu-west-2")).unwrap();
        assert_eq!(london.country, "GB");
        assert_eq!(london.place, Some("London"));
        let e = check_location("object_store", Some("GB"), Some("us-east-1")).unwrap_err();
        assert!(
            e.contains("object_store.region = us-east-1") && e.contains("refusing"),
            "{e}"
        );
        let e = check_location("object_store", Some("FR"), Some("eu-west-2")).unwrap_err();
        assert!(e.contains("does not match"), "{e}");
        let e = check_location("object_store", None, Some("eu-central-2")).unwrap_err();
        assert!(e.contains("CH"), "{e}");
        // A self-hosted region name says nothing: the country must be declared.
        assert!(
            check_location("object_store", None, Some("garage"))
                .unwrap_err()
                .contains("object_store.country is not set")
        );
        assert_eq!(
            check_location("postgres", Some("uk"), Some("garage"))
                .unwrap()
                .country,
            "GB"
        );
    }

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
