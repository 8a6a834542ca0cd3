//! Outcome measures: PHQ-9, GAD-7 and CORE-10, stored as item scores with the computed
//! total, severity band and risk flag.
//!
//! Scoring rules (from the published scoring guides; see `docs/architecture.md`):
//! * **PHQ-9**: 9 items 0–3, total 0–27; bands 0–4 minimal, 5–9 mild, 10–14 moderate,
//!   15–19 moderately severe, 20–27 severe; item 9 above 0 is a risk flag.
//! * **GAD-7**: 7 items 0–3, total 0–21; bands 0–4 minimal, 5–9 mild, 10–14 moderate, 15–21 severe.
//! * **CORE-10**: 10 items 0–4, items 2 and 3 reverse-scored, total 0–40; one missing item
//!   is pro-rated (mean of the other nine × 10); bands 0–5 healthy, 6–10 low, 11–14 mild,
//!   15–19 moderate, 20–24 moderate-to-severe, 25–40 severe; clinical cut-off 11; item 6 is
//!   the risk item. CORE-10 is © CORE System Trust: Casebook records item scores only and
//!   does not ship the item wording.

use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::Serialize;

use super::clients::ClientCode;
use super::require_client;
use crate::audit::Action;
use crate::error::{CoreError, Result};
use crate::vault::{Vault, new_id};

/// A questionnaire the therapist can record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Instrument {
    Phq9,
    Gad7,
    Core10,
}

impl Instrument {
    pub fn parse(s: &str) -> Result<Self> {
        match s
            .trim()
            .to_ascii_lowercase()
            .replace(['-', '_'], "")
            .as_str()
        {
            "phq9" => Ok(Self::Phq9),
            "gad7" => Ok(Self::Gad7),
            "core10" => Ok(Self::Core10),
            other => Err(CoreError::invalid(format!(
                "'{other}' is not a measure: use phq9, gad7 or core10"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Phq9 => "phq9",
            Self::Gad7 => "gad7",
            Self::Core10 => "core10",
        }
    }

    /// The name therapists use.
    pub fn label(self) -> &'static str {
        match self {
            Self::Phq9 => "PHQ-9",
            Self::Gad7 => "GAD-7",
            Self::Core10 => "CORE-10",
        }
    }

    /// How many questions the questionnaire has.
    pub fn item_count(self) -> usize {
        match self {
            Self::Phq9 => 9,
            Self::Gad7 => 7,
            Self::Core10 => 10,
        }
    }

    fn max_item(self) -> u8 {
        match self {
            Self::Core10 => 4,
            _ => 3,
        }
    }

    /// The highest possible total.
    pub fn max_total(self) -> f64 {
        (self.item_count() * self.max_item() as usize) as f64
    }

    /// Severity bands as (lowest total, name), in ascending order.
    pub fn bands(self) -> &'static [(f64, &'static str)] {
        match self {
            Self::Phq9 => &[
                (0.0, "minimal"),
                (5.0, "mild"),
                (10.0, "moderate"),
                (15.0, "moderately severe"),
                (20.0, "severe"),
            ],
            Self::Gad7 => &[
                (0.0, "minimal"),
                (5.0, "mild"),
                (10.0, "moderate"),
                (15.0, "severe"),
            ],
            Self::Core10 => &[
                (0.0, "healthy"),
                (6.0, "low"),
                (11.0, "mild"),
                (15.0, "moderate"),
                (20.0, "moderate-to-severe"),
                (25.0, "severe"),
            ],
        }
    }
}

/// The result of scoring one completed questionnaire.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Score {
    pub total: f64,
    pub band: &'static str,
    /// The risk item was answered above 0 (PHQ-9 item 9, CORE-10 item 6).
    pub risk: bool,
    /// CORE-10 only: total at or above the clinical cut-off (11).
    pub above_clinical_cutoff: Option<bool>,
    /// One missing item was pro-rated (CORE-10 only).
    pub prorated: bool,
}

/// Reads item scores written `0,1,2,…`; a missing item is written as `-` or left empty.
pub fn parse_items(s: &str) -> Result<Vec<Option<u8>>> {
    if s.len() > 200 {
        return Err(CoreError::invalid("too many item scores"));
    }
    s.split(',')
        .enumerate()
        .map(|(i, part)| {
            let p = part.trim();
            if p.is_empty() || p == "-" {
                return Ok(None);
            }
            p.parse::<u8>().map(Some).map_err(|_| {
                CoreError::invalid(format!(
                    "item {} is '{}': write item scores as whole numbers separated by commas, e.g. 0,1,2,3",
                    i + 1,
                    p.chars().take(12).collect::<String>()
                ))
            })
        })
        .collect()
}

/// Scores a questionnaire, checking the number and range of items.
pub fn score(instrument: Instrument, items: &[Option<u8>]) -> Result<Score> {
    let label = instrument.label();
    if items.len() != instrument.item_count() {
        return Err(CoreError::invalid(format!(
            "{label} has {} items, {} were given",
            instrument.item_count(),
            items.len()
        )));
    }
    for (i, item) in items.iter().enumerate() {
        if let Some(v) = item
            && *v > instrument.max_item()
        {
            return Err(CoreError::invalid(format!(
                "{label} item {} is {v}: items score 0–{}",
                i + 1,
                instrument.max_item()
            )));
        }
    }
    let missing = items.iter().filter(|i| i.is_none()).count();
    let allowed_missing = if instrument == Instrument::Core10 {
        1
    } else {
        0
    };
    if missing > allowed_missing {
        return Err(CoreError::invalid(if allowed_missing == 0 {
            format!("{label} needs every item answered")
        } else {
            format!("{label} can be scored with at most one item missing; {missing} are missing")
        }));
    }
    let scored = |i: usize, v: u8| -> u8 {
        // CORE-10 items 2 and 3 are positively worded and reverse-scored.
        if instrument == Instrument::Core10 && (i == 1 || i == 2) {
            4 - v
        } else {
            v
        }
    };
    let sum: u32 = items
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| u32::from(scored(i, v))))
        .sum();
    let answered = items.len() - missing;
    let total = if missing == 0 {
        f64::from(sum)
    } else {
        // Mean of the answered items × the number of items, to one decimal place.
        (f64::from(sum) * items.len() as f64 / answered as f64 * 10.0).round() / 10.0
    };
    let band = instrument
        .bands()
        .iter()
        .rev()
        .find(|(low, _)| total >= *low)
        .map(|(_, name)| *name)
        .unwrap_or("minimal");
    let risk = match instrument {
        Instrument::Phq9 => items[8].is_some_and(|v| v > 0),
        Instrument::Core10 => items[5].is_some_and(|v| v > 0),
        Instrument::Gad7 => false,
    };
    Ok(Score {
        total,
        band,
        risk,
        above_clinical_cutoff: (instrument == Instrument::Core10).then_some(total >= 11.0),
        prorated: missing > 0,
    })
}

/// One completed questionnaire.
#[derive(Clone, Debug, Serialize)]
pub struct OutcomeMeasure {
    pub id: String,
    pub client_code: String,
    pub instrument: Instrument,
    pub items: Vec<Option<u8>>,
    pub score: Score,
    pub taken_at: DateTime<Utc>,
}

impl Vault {
    /// Records a completed questionnaire with its computed score.
    pub fn add_measure(
        &mut self,
        code: &ClientCode,
        instrument: Instrument,
        items: &[Option<u8>],
    ) -> Result<OutcomeMeasure> {
        let score = score(instrument, items)?;
        self.act(Action::MeasureCreate, |cx| {
            require_client(cx.tx, code.as_str())?;
            let id = new_id();
            let hlc = cx.stamp();
            let now = cx.now;
            let items_json = serde_json::to_string(items).unwrap_or_else(|_| "[]".into());
            cx.tx.execute(
                "INSERT INTO outcome_measures (id, client_code, instrument, items, total, band, risk, taken_at, hlc, device_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![id, code.as_str(), instrument.as_str(), items_json, score.total, score.band, score.risk, now, hlc, cx.device_id],
            )?;
            cx.client(code.as_str());
            cx.object(&id);
            cx.detail(format!("instrument={}", instrument.as_str()));
            Ok(OutcomeMeasure {
                id,
                client_code: code.to_string(),
                instrument,
                items: items.to_vec(),
                score: score.clone(),
                taken_at: now,
            })
        })
    }

    /// A client's questionnaires, oldest first.
    pub fn measures(&mut self, code: &ClientCode) -> Result<Vec<OutcomeMeasure>> {
        self.act(Action::MeasureList, |cx| Self::measures_in(cx, code))
    }

    /// [`Self::measures`] inside another action (its audit target left filled in).
    pub(crate) fn measures_in(
        cx: &mut crate::vault::Ctx<'_>,
        code: &ClientCode,
    ) -> Result<Vec<OutcomeMeasure>> {
        require_client(cx.tx, code.as_str())?;
        cx.client(code.as_str());
        let mut stmt = cx.tx.prepare(
            "SELECT id, instrument, items, taken_at FROM outcome_measures
                 WHERE client_code = ?1 AND deleted = 0 ORDER BY taken_at, id",
        )?;
        let rows = stmt
            .query_map([code.as_str()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get(3)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, instrument, items, taken_at) in rows {
            let instrument = Instrument::parse(&instrument)?;
            let items: Vec<Option<u8>> = serde_json::from_str(&items)
                .map_err(|_| CoreError::Corrupt(format!("measure {id} has unreadable items")))?;
            // Recomputed from the items, so a change to scoring rules applies everywhere.
            let score = score(instrument, &items)?;
            out.push(OutcomeMeasure {
                id,
                client_code: code.to_string(),
                instrument,
                items,
                score,
                taken_at,
            });
        }
        cx.detail(format!("count={}", out.len()));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn all(v: &[u8]) -> Vec<Option<u8>> {
        v.iter().copied().map(Some).collect()
    }

    #[test]
    fn phq9_bands_and_risk() {
        let s = score(Instrument::Phq9, &all(&[0, 0, 0, 0, 0, 0, 0, 0, 0])).unwrap();
        assert_eq!((s.total, s.band, s.risk), (0.0, "minimal", false));
        let s = score(Instrument::Phq9, &all(&[1, 1, 1, 1, 1, 0, 0, 0, 0])).unwrap();
        assert_eq!((s.total, s.band), (5.0, "mild"));
        let s = score(Instrument::Phq9, &all(&[2, 2, 2, 2, 2, 2, 2, 0, 1])).unwrap();
        assert_eq!((s.total, s.band, s.risk), (15.0, "moderately severe", true));
        let s = score(Instrument::Phq9, &all(&[3; 9])).unwrap();
        assert_eq!((s.total, s.band), (27.0, "severe"));
        let s = score(Instrument::Phq9, &all(&[3, 3, 3, 3, 3, 3, 1, 0, 0])).unwrap();
        assert_eq!((s.total, s.band), (19.0, "moderately severe"));
    }

    #[test]
    fn gad7_bands() {
        for (items, band) in [
            ([1, 1, 1, 1, 0, 0, 0], "minimal"),
            ([3, 3, 3, 1, 0, 0, 0], "moderate"),
            ([3, 3, 3, 3, 3, 0, 0], "severe"),
        ] {
            assert_eq!(score(Instrument::Gad7, &all(&items)).unwrap().band, band);
        }
    }

    #[test]
    fn core10_reverse_scores_items_2_and_3_and_prorates_one_missing() {
        // Items 2 and 3 at 4 (best) score 0; everything else 0 → total 0.
        let s = score(Instrument::Core10, &all(&[0, 4, 4, 0, 0, 0, 0, 0, 0, 0])).unwrap();
        assert_eq!(
            (s.total, s.band, s.above_clinical_cutoff),
            (0.0, "healthy", Some(false))
        );
        // Items 2 and 3 at 0 score 4 each.
        let s = score(Instrument::Core10, &all(&[1, 0, 0, 1, 1, 0, 0, 0, 0, 1])).unwrap();
        assert_eq!(
            (s.total, s.band, s.above_clinical_cutoff),
            (12.0, "mild", Some(true))
        );
        // Risk item 6.
        assert!(
            score(Instrument::Core10, &all(&[0, 4, 4, 0, 0, 1, 0, 0, 0, 0]))
                .unwrap()
                .risk
        );
        // One missing: 9 answered summing to 9 → 10.0, pro-rated.
        let mut items = all(&[1, 3, 3, 1, 1, 1, 1, 1, 1, 0]);
        items[9] = None;
        let s = score(Instrument::Core10, &items).unwrap();
        assert_eq!((s.total, s.prorated, s.band), (10.0, true, "low"));
        items[0] = None;
        assert!(score(Instrument::Core10, &items).is_err());
    }

    #[test]
    fn bad_items_are_refused() {
        assert!(score(Instrument::Phq9, &all(&[0; 8])).is_err());
        assert!(score(Instrument::Phq9, &all(&[4, 0, 0, 0, 0, 0, 0, 0, 0])).is_err());
        assert!(
            score(
                Instrument::Gad7,
                &[None, Some(0), Some(0), Some(0), Some(0), Some(0), Some(0)]
            )
            .is_err()
        );
        assert!(parse_items("0,1,x").is_err());
        assert!(parse_items("0,1,-1").is_err());
        assert_eq!(
            parse_items("0, 1,-,3").unwrap(),
            vec![Some(0), Some(1), None, Some(3)]
        );
    }

    proptest! {
        #[test]
        fn parse_items_never_panics(s in "\\PC{0,120}") {
            let _ = parse_items(&s);
        }

        #[test]
        fn totals_stay_in_range_and_bands_are_monotonic(items in proptest::collection::vec(0u8..=4, 10)) {
            for inst in [Instrument::Phq9, Instrument::Gad7, Instrument::Core10] {
                let n = inst.item_count();
                let its: Vec<Option<u8>> = items[..n].iter().map(|v| Some((*v).min(inst.max_item()))).collect();
                let s = score(inst, &its).unwrap();
                prop_assert!(s.total >= 0.0 && s.total <= inst.max_total());
                let idx = inst.bands().iter().position(|(_, b)| *b == s.band).unwrap();
                prop_assert!(s.total >= inst.bands()[idx].0);
                if let Some((next, _)) = inst.bands().get(idx + 1) { prop_assert!(s.total < *next); }
            }
        }
    }
}
