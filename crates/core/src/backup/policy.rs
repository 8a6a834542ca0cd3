//! The keep-policy: which backups to keep as they age, and which to prune.
//!
//! Defaults follow the promise "multiple recent backups to restore from": everything from the
//! last 48 hours, then the newest backup of each day for 30 days, of each week for 12 weeks,
//! and of each month for 12 months. Two rules hold whatever the figures: the newest backup
//! is always kept, and so is the newest *verified* one. [`plan`] is a pure function, so the
//! rules are checked by property tests.

use std::collections::HashSet;

use chrono::{DateTime, Datelike, Duration, Months, Utc};
use serde::{Deserialize, Serialize};

/// How long backups are kept. Every figure is adjustable; zero turns a rule off.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeepPolicy {
    /// Keep every backup younger than this many hours.
    pub all_hours: u32,
    /// Then the newest of each day, for this many days.
    pub daily_days: u32,
    /// Then the newest of each ISO week, for this many weeks.
    pub weekly_weeks: u32,
    /// Then the newest of each calendar month, for this many months.
    pub monthly_months: u32,
}

impl Default for KeepPolicy {
    fn default() -> Self {
        KeepPolicy {
            all_hours: 48,
            daily_days: 30,
            weekly_weeks: 12,
            monthly_months: 12,
        }
    }
}

/// What the policy needs to know of one backup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// It passed `backup verify` (and no later verification failed).
    pub verified: bool,
}

/// The outcome: names to keep (with the rule that kept each) and names to delete.
#[derive(Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct PrunePlan {
    pub keep: Vec<(String, &'static str)>,
    pub delete: Vec<String>,
}

/// Applies `policy` at time `now`.
pub fn plan(policy: &KeepPolicy, candidates: &[Candidate], now: DateTime<Utc>) -> PrunePlan {
    let mut sorted: Vec<&Candidate> = candidates.iter().collect();
    // Newest first; the name breaks ties so the result does not depend on input order.
    sorted.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| b.name.cmp(&a.name))
    });
    let mut reason: Vec<Option<&'static str>> = vec![None; sorted.len()];

    if !sorted.is_empty() {
        reason[0] = Some("newest");
    }
    if let Some(i) = sorted.iter().position(|c| c.verified) {
        reason[i].get_or_insert("newest verified");
    }
    let all_since = now - Duration::hours(i64::from(policy.all_hours));
    for (i, c) in sorted.iter().enumerate() {
        if c.created_at >= all_since {
            reason[i].get_or_insert("recent");
        }
    }
    let day_since = now - Duration::days(i64::from(policy.daily_days));
    let week_since = now - Duration::weeks(i64::from(policy.weekly_weeks));
    let month_since = now
        .checked_sub_months(Months::new(policy.monthly_months))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    keep_newest_per(&sorted, &mut reason, day_since, "daily", |t| {
        (t.year(), t.ordinal(), 0)
    });
    keep_newest_per(&sorted, &mut reason, week_since, "weekly", |t| {
        let w = t.iso_week();
        (w.year(), w.week(), 1)
    });
    keep_newest_per(&sorted, &mut reason, month_since, "monthly", |t| {
        (t.year(), t.month(), 2)
    });

    let mut out = PrunePlan::default();
    for (c, r) in sorted.iter().zip(reason) {
        match r {
            Some(r) => out.keep.push((c.name.clone(), r)),
            None => out.delete.push(c.name.clone()),
        }
    }
    out
}

/// Keeps the newest backup of each period (as `period` names it) created since `since`.
fn keep_newest_per<K: Eq + std::hash::Hash>(
    sorted: &[&Candidate],
    reason: &mut [Option<&'static str>],
    since: DateTime<Utc>,
    rule: &'static str,
    period: impl Fn(DateTime<Utc>) -> K,
) {
    let mut seen = HashSet::new();
    for (i, c) in sorted.iter().enumerate() {
        if c.created_at >= since && seen.insert(period(c.created_at)) {
            reason[i].get_or_insert(rule);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn now() -> DateTime<Utc> {
        "2026-11-22T12:00:00Z".parse().unwrap()
    }

    fn candidates(ages_minutes: &[(u32, bool)]) -> Vec<Candidate> {
        ages_minutes
            .iter()
            .enumerate()
            .map(|(i, (age, verified))| Candidate {
                name: format!("b{i}"),
                created_at: now() - Duration::minutes(i64::from(*age)),
                verified: *verified,
            })
            .collect()
    }

    #[test]
    fn three_a_day_for_two_years_keeps_a_bounded_set() {
        let list: Vec<(u32, bool)> = (0..3 * 730).map(|i| (i * 8 * 60, i % 5 == 0)).collect();
        let p = plan(&KeepPolicy::default(), &candidates(&list), now());
        // 48 h → 6; then ~28 more days, a few weeks and months on top.
        assert!(p.keep.len() >= 6 + 28 + 12, "{}", p.keep.len());
        assert!(p.keep.len() <= 6 + 30 + 12 + 13, "{}", p.keep.len());
        assert_eq!(p.keep.len() + p.delete.len(), list.len());
    }

    #[test]
    fn an_old_verified_backup_survives_when_nothing_newer_verified() {
        let list = [(10, false), (60 * 24 * 800, true), (60 * 24 * 900, false)];
        let p = plan(&KeepPolicy::default(), &candidates(&list), now());
        assert!(
            p.keep
                .iter()
                .any(|(n, r)| n == "b1" && *r == "newest verified")
        );
        assert_eq!(p.delete, vec!["b2".to_string()]);
    }

    proptest! {
        #[test]
        fn policy_promises_hold(
            list in proptest::collection::vec((0u32..60 * 24 * 500, any::<bool>()), 0..80),
            all_hours in 0u32..100, daily in 0u32..40, weekly in 0u32..20, monthly in 0u32..15,
        ) {
            let policy = KeepPolicy { all_hours, daily_days: daily, weekly_weeks: weekly, monthly_months: monthly };
            let cands = candidates(&list);
            let p = plan(&policy, &cands, now());
            let kept: HashSet<&str> = p.keep.iter().map(|(n, _)| n.as_str()).collect();
            let deleted: HashSet<&str> = p.delete.iter().map(String::as_str).collect();
            // Every backup is either kept or deleted, never both.
            prop_assert_eq!(kept.len() + deleted.len(), cands.len());
            prop_assert!(kept.is_disjoint(&deleted));
            let newest = |it: &mut dyn Iterator<Item = &Candidate>| {
                it.max_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.name.cmp(&b.name)))
                    .map(|c| c.name.clone())
            };
            // The newest verified backup is never deleted; nor the newest of all.
            if let Some(n) = newest(&mut cands.iter().filter(|c| c.verified)) {
                prop_assert!(kept.contains(n.as_str()));
            }
            if let Some(n) = newest(&mut cands.iter()) {
                prop_assert!(kept.contains(n.as_str()));
            }
            for c in &cands {
                let age = now() - c.created_at;
                // Everything inside the "all" window is kept.
                if age <= Duration::hours(i64::from(all_hours)) {
                    prop_assert!(kept.contains(c.name.as_str()));
                }
                // Each day inside the daily window that had a backup still has one.
                if age <= Duration::days(i64::from(daily)) {
                    let day = c.created_at.date_naive();
                    prop_assert!(cands.iter().any(|k| k.created_at.date_naive() == day && kept.contains(k.name.as_str())));
                }
                if age <= Duration::weeks(i64::from(weekly)) {
                    let week = c.created_at.iso_week();
                    prop_assert!(cands.iter().any(|k| k.created_at.iso_week() == week && kept.contains(k.name.as_str())));
                }
            }
        }
    }
}
