//! Sign-in rate limiting that cannot lock anyone out for good, and holds for attempts that
//! arrive together.
//!
//! * Per (username, address): after 5 failures within 15 minutes the pair is locked for 1
//!   minute, doubling on each further lock up to 15 minutes. A stranger's failures from their
//!   own address do not lock the therapist out from theirs.
//! * Per address: after 30 failures within 15 minutes the address is locked for 15 minutes.
//!
//! An attempt is *reserved* when it arrives ([`Limiter::begin`]), before any password is
//! checked: attempts still in flight count towards the threshold as if they had failed, so
//! 300 requests sent at once get at most 5 checks, not 300. The reservation is an
//! [`Attempt`] guard, settled as a failure, a success (which clears the key's record) or as
//! neither ([`Attempt::release`], for a step that reached no verdict); a guard dropped
//! unsettled (the client went away, an error) counts as a failure.
//!
//! Every lock expires on its own. State is in memory (per server instance) and bounded: at
//! most [`MAX_ENTRIES`] keys; when that many are live at once, attempts under new keys are
//! refused until some expire (fail closed rather than grow without bound).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Keys remembered at once, at most (an entry is ~150 bytes: ~15 MB in all).
pub const MAX_ENTRIES: usize = 100_000;
/// The wait suggested when the threshold is taken up by attempts still being checked.
const IN_FLIGHT_WAIT: Duration = Duration::from_secs(1);
/// The wait suggested when the table is full of live keys.
const FULL_WAIT: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Entry {
    failures: Vec<Instant>,
    in_flight: usize,
    locked_until: Option<Instant>,
    locks: u32,
}

impl Entry {
    /// Nothing worth remembering: no recent failure, no lock, nothing in flight.
    fn is_idle(&self, now: Instant) -> bool {
        self.in_flight == 0
            && self.locked_until.is_none_or(|u| u <= now)
            && self
                .failures
                .last()
                .is_none_or(|t| now.duration_since(*t) >= WINDOW)
    }
}

/// One limiter: a failure threshold and a lock schedule.
pub struct Limiter {
    threshold: usize,
    first_lock: Duration,
    max_lock: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

/// How a reserved attempt ended.
enum Outcome {
    Failure,
    Success,
    Neutral,
}

/// A reserved attempt under one key; see the module documentation.
#[must_use = "an attempt dropped unsettled counts as a failure"]
pub struct Attempt<'a> {
    limiter: &'a Limiter,
    key: String,
    /// When it arrived: a failure is recorded at that time.
    at: Instant,
    settled: bool,
}

impl Attempt<'_> {
    /// The credentials were wrong: counts towards a lock.
    pub fn failed(mut self) {
        self.settle(Outcome::Failure);
    }

    /// The credentials were right: the key's failures and locks are forgotten.
    pub fn succeeded(mut self) {
        self.settle(Outcome::Success);
    }

    /// No verdict (e.g. a passkey challenge was handed out): neither a failure nor a success.
    pub fn release(mut self) {
        self.settle(Outcome::Neutral);
    }

    fn settle(&mut self, outcome: Outcome) {
        if !self.settled {
            self.settled = true;
            self.limiter.settle(&self.key, outcome, self.at);
        }
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        self.settle(Outcome::Failure);
    }
}

impl Limiter {
    pub fn new(threshold: usize, first_lock: Duration, max_lock: Duration) -> Self {
        Limiter {
            threshold,
            first_lock,
            max_lock,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reserves an attempt under `key`; `Err(wait)` while the key is locked, or while its
    /// recent failures and the attempts in flight already reach the threshold.
    pub fn begin(&self, key: &str, now: Instant) -> Result<Attempt<'_>, Duration> {
        let mut map = self.map();
        if !map.contains_key(key) && map.len() >= MAX_ENTRIES {
            map.retain(|_, e| !e.is_idle(now));
            if map.len() >= MAX_ENTRIES {
                tracing::warn!("rate-limit table full: refusing attempts under new keys");
                return Err(FULL_WAIT);
            }
        }
        let e = map.entry(key.to_string()).or_default();
        if let Some(until) = e.locked_until.filter(|u| *u > now) {
            return Err(until - now);
        }
        e.failures.retain(|t| now.duration_since(*t) < WINDOW);
        if e.failures.len() + e.in_flight >= self.threshold {
            return Err(IN_FLIGHT_WAIT);
        }
        e.in_flight += 1;
        Ok(Attempt {
            limiter: self,
            key: key.to_string(),
            at: now,
            settled: false,
        })
    }

    fn settle(&self, key: &str, outcome: Outcome, now: Instant) {
        let mut map = self.map();
        let Some(e) = map.get_mut(key) else { return };
        e.in_flight = e.in_flight.saturating_sub(1);
        match outcome {
            Outcome::Failure => self.record_failure(e, now),
            Outcome::Success => {
                e.failures.clear();
                e.locked_until = None;
                e.locks = 0;
            }
            Outcome::Neutral => {}
        }
        if e.is_idle(now) && e.locks == 0 {
            map.remove(key);
        }
    }

    fn record_failure(&self, e: &mut Entry, now: Instant) {
        e.failures.retain(|t| now.duration_since(*t) < WINDOW);
        e.failures.push(now);
        if e.failures.len() >= self.threshold {
            let lock = self
                .first_lock
                .saturating_mul(1 << e.locks.min(10))
                .min(self.max_lock);
            e.locked_until = Some(now + lock);
            e.locks += 1;
            e.failures.clear();
        }
    }
}

/// The two limiters the sign-in path uses.
pub struct SignInLimits {
    pub pair: Limiter,
    pub address: Limiter,
}

/// A reserved sign-in attempt: its (username, address) pair and, when known, its address.
#[must_use = "an attempt dropped unsettled counts as a failure"]
pub struct SignInReservation<'a> {
    pair: Attempt<'a>,
    address: Option<Attempt<'a>>,
}

impl SignInReservation<'_> {
    pub fn failed(self) {
        self.pair.failed();
        if let Some(a) = self.address {
            a.failed();
        }
    }

    /// Clears the pair's record; the address's failures stand (others may share it).
    pub fn succeeded(self) {
        self.pair.succeeded();
        if let Some(a) = self.address {
            a.release();
        }
    }

    pub fn release(self) {
        self.pair.release();
        if let Some(a) = self.address {
            a.release();
        }
    }
}

impl SignInLimits {
    /// Reserves an attempt against its address and its (username, address) pair; refused,
    /// with how long to wait, while either is locked or has its threshold taken up.
    pub fn begin(
        &self,
        a: &crate::auth::SignInAttempt,
        now: Instant,
    ) -> Result<SignInReservation<'_>, Duration> {
        let address = match &a.address {
            Some(addr) => Some(self.address.begin(addr, now)?),
            None => None,
        };
        match self.pair.begin(&a.pair, now) {
            Ok(pair) => Ok(SignInReservation { pair, address }),
            Err(wait) => {
                // Refused before anything was checked: the address's reservation is not a failure.
                if let Some(addr) = address {
                    addr.release();
                }
                Err(wait)
            }
        }
    }
}

impl Default for SignInLimits {
    fn default() -> Self {
        SignInLimits {
            pair: Limiter::new(5, Duration::from_secs(60), Duration::from_secs(15 * 60)),
            address: Limiter::new(
                30,
                Duration::from_secs(15 * 60),
                Duration::from_secs(15 * 60),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(l: &Limiter, key: &str, at: Instant) {
        l.begin(key, at).expect("not locked").failed();
    }

    #[test]
    fn locks_after_the_threshold_and_always_expires() {
        let l = Limiter::new(5, Duration::from_secs(60), Duration::from_secs(900));
        let t0 = Instant::now();
        for i in 0..5 {
            fail(&l, "k", t0 + Duration::from_secs(i));
        }
        assert!(l.begin("k", t0 + Duration::from_secs(5)).is_err());
        let a = l
            .begin("k", t0 + Duration::from_secs(65))
            .expect("the first lock lasts a minute");
        a.release();
        // Locks double but never exceed the cap, however long an attacker keeps going.
        let mut t = t0 + Duration::from_secs(70);
        for _ in 0..20 {
            for _ in 0..5 {
                fail(&l, "k", t);
            }
            let wait = l.begin("k", t).err().unwrap();
            assert!(wait <= Duration::from_secs(900));
            t += wait + Duration::from_secs(1);
        }
        l.begin("k", t).unwrap().succeeded();
        l.begin("k", t).unwrap().release();
        l.begin("other", t0).unwrap().release();
    }

    #[test]
    fn attempts_in_flight_count_towards_the_threshold() {
        let l = Limiter::new(5, Duration::from_secs(60), Duration::from_secs(900));
        let t = Instant::now();
        let held: Vec<_> = (0..5).map(|_| l.begin("k", t).unwrap()).collect();
        assert!(
            l.begin("k", t).is_err(),
            "five in flight fill the threshold"
        );
        // Released without a verdict, they free their places again.
        held.into_iter().for_each(Attempt::release);
        let a = l.begin("k", t).unwrap();
        // Dropped unsettled (a client that went away): a failure.
        drop(a);
        for _ in 0..4 {
            fail(&l, "k", t);
        }
        assert!(l.begin("k", t).is_err(), "locked after five failures");
    }

    #[test]
    fn a_success_clears_the_key_and_idle_keys_are_forgotten() {
        let l = Limiter::new(5, Duration::from_secs(60), Duration::from_secs(900));
        let t = Instant::now();
        for _ in 0..4 {
            fail(&l, "k", t);
        }
        l.begin("k", t).unwrap().succeeded();
        for _ in 0..4 {
            fail(&l, "k", t);
        }
        l.begin("k", t).unwrap().release();
        l.begin("idle", t).unwrap().release();
        assert!(!l.map().contains_key("idle"));
    }
}
