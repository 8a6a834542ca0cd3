//! Hybrid logical clock stamps for every row, so a later sync can order changes made on
//! different devices without trusting their wall clocks.
//!
//! A stamp is wall-clock milliseconds plus a counter that breaks ties and keeps stamps
//! strictly increasing on this device even if the clock steps back. Its text form
//! (`0001732281600000-00000000`: 16 digits of milliseconds, 8 hex digits of counter) sorts in the same order as the stamps.

use std::fmt;

/// How far ahead of this device's clock a remote stamp may be and still be followed (5 min).
pub const MAX_AHEAD_MS: i64 = 5 * 60 * 1000;

/// What observing a remote stamp did to this device's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Observed {
    /// The clock now sorts after the remote stamp.
    Followed(Hlc),
    /// The stamp was too far ahead: the clock is unchanged and the change must be flagged.
    TooFarAhead { clock: Hlc, ahead_ms: i64 },
}

/// Whether the write stamped `a` by device `a_device` wins over `b` by `b_device` (last writer
/// wins; equal stamps, which two devices can issue, break by device id so every device
/// picks the same winner).
pub fn wins(a: Hlc, a_device: &str, b: Hlc, b_device: &str) -> bool {
    (a, a_device) > (b, b_device)
}

/// One hybrid-logical-clock reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Hlc {
    pub wall_ms: i64,
    pub counter: u32,
}

impl Hlc {
    /// The next stamp after `self`, given the wall clock `now_ms`.
    pub fn tick(self, now_ms: i64) -> Hlc {
        if now_ms > self.wall_ms {
            Hlc {
                wall_ms: now_ms,
                counter: 0,
            }
        } else {
            Hlc {
                wall_ms: self.wall_ms,
                counter: self.counter.saturating_add(1),
            }
        }
    }

    /// Folds in a stamp received from another device (for sync).
    pub fn observe(self, remote: Hlc, now_ms: i64) -> Hlc {
        let wall = self.wall_ms.max(remote.wall_ms).max(now_ms);
        let counter = if wall == self.wall_ms && wall == remote.wall_ms {
            self.counter.max(remote.counter).saturating_add(1)
        } else if wall == self.wall_ms {
            self.counter.saturating_add(1)
        } else if wall == remote.wall_ms {
            remote.counter.saturating_add(1)
        } else {
            0
        };
        Hlc {
            wall_ms: wall,
            counter,
        }
    }

    /// Folds in a stamp that arrived by sync, unless it is more than [`MAX_AHEAD_MS`] ahead
    /// of this device's wall clock: such a stamp (a wrong clock on the other computer, or a
    /// forged one) is applied but does not drag this device's clock forward, so later local
    /// edits are not all made to lose against it; the caller flags the change.
    pub fn observe_remote(self, remote: Hlc, now_ms: i64) -> Observed {
        let ahead = remote.wall_ms.saturating_sub(now_ms);
        if ahead > MAX_AHEAD_MS {
            Observed::TooFarAhead {
                clock: self,
                ahead_ms: ahead,
            }
        } else {
            Observed::Followed(self.observe(remote, now_ms))
        }
    }

    /// Parses the text form.
    pub fn parse(s: &str) -> Option<Hlc> {
        let (w, c) = s.split_once('-')?;
        Some(Hlc {
            wall_ms: w.parse().ok()?,
            counter: u32::from_str_radix(c, 16).ok()?,
        })
    }
}

impl fmt::Display for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016}-{:08x}", self.wall_ms, self.counter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn ticks_strictly_increase_even_when_the_clock_goes_back(
            start in 0i64..1_000_000_000_000, steps in proptest::collection::vec(-5000i64..5000, 1..50)
        ) {
            let mut h = Hlc { wall_ms: start, counter: 0 };
            let mut now = start;
            for s in steps {
                now = (now + s).max(0);
                let next = h.tick(now);
                prop_assert!(next > h);
                prop_assert!(next.to_string() > h.to_string());
                prop_assert_eq!(Hlc::parse(&next.to_string()), Some(next));
                h = next;
            }
        }

        #[test]
        fn a_remote_stamp_is_followed_only_within_five_minutes(
            local in 0i64..1_000_000_000, now in 0i64..1_000_000_000, ahead in -1_000_000i64..1_000_000
        ) {
            let l = Hlc { wall_ms: local, counter: 0 };
            let r = Hlc { wall_ms: now + ahead, counter: 3 };
            match l.observe_remote(r, now) {
                Observed::Followed(h) => {
                    prop_assert!(ahead <= MAX_AHEAD_MS);
                    prop_assert!(h > l && h > r);
                }
                Observed::TooFarAhead { clock, ahead_ms } => {
                    prop_assert!(ahead > MAX_AHEAD_MS);
                    prop_assert_eq!(clock, l);
                    prop_assert_eq!(ahead_ms, ahead);
                }
            }
        }

        #[test]
        fn exactly_one_of_two_writes_wins(a in 0i64..10, ac in 0u32..3, b in 0i64..10, bc in 0u32..3, da in "[ab]", db in "[ab]") {
            let x = Hlc { wall_ms: a, counter: ac };
            let y = Hlc { wall_ms: b, counter: bc };
            if (x, &da) != (y, &db) {
                prop_assert!(wins(x, &da, y, &db) != wins(y, &db, x, &da));
            }
        }

        #[test]
        fn observe_is_after_both(a in 0i64..1_000_000, ac in 0u32..100, b in 0i64..1_000_000, bc in 0u32..100, now in 0i64..1_000_000) {
            let l = Hlc { wall_ms: a, counter: ac };
            let r = Hlc { wall_ms: b, counter: bc };
            let o = l.observe(r, now);
            prop_assert!(o > l && o > r);
        }
    }
}
