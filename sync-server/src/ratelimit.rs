//! Sign-in rate limiting that cannot lock anyone out for good.
//!
//! * Per (username, address): after 5 failures within 15 minutes the pair is locked for 1
//!   minute, doubling on each further lock up to 15 minutes. A stranger's failures from their
//!   own address do not lock the therapist out from theirs.
//! * Per address: after 30 failures within 15 minutes the address is locked for 15 minutes.
//!
//! Every lock expires on its own; a successful sign-in clears the pair's record. State is in
//! memory (per server instance) and bounded in size.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(15 * 60);
const MAX_ENTRIES: usize = 50_000;

struct Entry {
    failures: Vec<Instant>,
    locked_until: Option<Instant>,
    locks: u32,
}

/// One limiter: a failure threshold and a lock schedule.
pub struct Limiter {
    threshold: usize,
    first_lock: Duration,
    max_lock: Duration,
    entries: Mutex<HashMap<String, Entry>>,
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

    /// `Err(wait)` while `key` is locked.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(key).and_then(|e| e.locked_until) {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    /// Records a failure; may start a lock.
    pub fn failure(&self, key: &str, now: Instant) {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, e| {
                e.failures
                    .last()
                    .is_some_and(|t| now.duration_since(*t) < WINDOW)
                    || e.locked_until.is_some_and(|u| u > now)
            });
        }
        let e = map.entry(key.to_string()).or_insert(Entry {
            failures: Vec::new(),
            locked_until: None,
            locks: 0,
        });
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

    /// Forgets `key` after a success.
    pub fn success(&self, key: &str) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

/// The two limiters the sign-in path uses.
pub struct SignInLimits {
    pub pair: Limiter,
    pub address: Limiter,
}

impl SignInLimits {
    /// Refuses an attempt while its address or its (username, address) pair is locked,
    /// with how long is left.
    pub fn check(&self, a: &crate::auth::SignInAttempt, now: Instant) -> Result<(), Duration> {
        if let Some(addr) = &a.address {
            self.address.check(addr, now)?;
        }
        self.pair.check(&a.pair, now)
    }

    pub fn failure(&self, a: &crate::auth::SignInAttempt, now: Instant) {
        self.pair.failure(&a.pair, now);
        if let Some(addr) = &a.address {
            self.address.failure(addr, now);
        }
    }

    pub fn success(&self, a: &crate::auth::SignInAttempt) {
        self.pair.success(&a.pair);
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

    #[test]
    fn locks_after_the_threshold_and_always_expires() {
        let l = Limiter::new(5, Duration::from_secs(60), Duration::from_secs(900));
        let t0 = Instant::now();
        for i in 0..4 {
            l.failure("k", t0 + Duration::from_secs(i));
            assert!(l.check("k", t0 + Duration::from_secs(i)).is_ok());
        }
        l.failure("k", t0 + Duration::from_secs(4));
        assert!(l.check("k", t0 + Duration::from_secs(5)).is_err());
        assert!(
            l.check("k", t0 + Duration::from_secs(65)).is_ok(),
            "the first lock lasts a minute"
        );
        // Locks double but never exceed the cap, however long an attacker keeps going.
        let mut t = t0 + Duration::from_secs(70);
        for _ in 0..20 {
            for _ in 0..5 {
                l.failure("k", t);
            }
            let wait = l.check("k", t).unwrap_err();
            assert!(wait <= Duration::from_secs(900));
            t += wait + Duration::from_secs(1);
            assert!(l.check("k", t).is_ok());
        }
        l.success("k");
        assert!(l.check("k", t).is_ok());
        assert!(l.check("other", t0).is_ok());
    }
}
