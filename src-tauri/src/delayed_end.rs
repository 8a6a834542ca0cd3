//! "Ended · Undo" for the tray: End in the tray menu does not end the session at once; for
//! ten seconds the menu offers Undo, then the session ends at the moment End was pressed.
//! (The windows do the same in the UI, `ui/src/lib/delayed-end.svelte.ts`.) This module
//! owns only the bookkeeping; the tray starts the timer and calls the end.

use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::state::guard;

/// How long Undo is offered.
pub const UNDO_SECONDS: u64 = 10;

#[derive(Default)]
pub struct DelayedEnd {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Counts requests, so a timer from an undone request cannot end a later one.
    generation: u64,
    pending: Option<(u64, DateTime<Utc>)>,
}

impl DelayedEnd {
    /// End was pressed at `at`: returns the request's number for its timer, or `None` when
    /// one is already waiting (a second press changes nothing).
    pub fn request(&self, at: DateTime<Utc>) -> Option<u64> {
        let mut i = guard(&self.inner);
        if i.pending.is_some() {
            return None;
        }
        i.generation += 1;
        let g = i.generation;
        i.pending = Some((g, at));
        Some(g)
    }

    /// Undo: true when an end was waiting (and now is not).
    pub fn undo(&self) -> bool {
        guard(&self.inner).pending.take().is_some()
    }

    /// The timer of request `generation` ran out: the moment End was pressed, if that
    /// request is still waiting (then it is no longer).
    pub fn due(&self, generation: u64) -> Option<DateTime<Utc>> {
        let mut i = guard(&self.inner);
        match i.pending {
            Some((g, at)) if g == generation => {
                i.pending = None;
                Some(at)
            }
            _ => None,
        }
    }

    /// Takes a waiting end at once (the app is quitting): the moment End was pressed.
    pub fn take(&self) -> Option<DateTime<Utc>> {
        guard(&self.inner).pending.take().map(|(_, at)| at)
    }

    /// Whether an end is waiting for its Undo time to pass.
    pub fn pending(&self) -> bool {
        guard(&self.inner).pending.is_some()
    }

    /// Forgets a waiting end (the session ended some other way meanwhile).
    pub fn clear(&self) {
        guard(&self.inner).pending = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_end_waits_for_its_timer_and_undo_cancels_it() {
        let d = DelayedEnd::default();
        let pressed = Utc::now();
        let g = d.request(pressed).unwrap();
        assert!(d.pending());
        // A second press while one waits changes nothing.
        assert_eq!(d.request(pressed + chrono::Duration::seconds(3)), None);
        assert_eq!(d.due(g), Some(pressed), "ends when End was pressed");
        assert!(!d.pending());
        assert_eq!(d.due(g), None, "only once");

        let g1 = d.request(pressed).unwrap();
        assert!(d.undo());
        assert!(!d.undo());
        // The undone request's timer finds nothing, even after a new request.
        let g2 = d.request(pressed).unwrap();
        assert_eq!(d.due(g1), None);
        assert!(d.pending());
        assert_eq!(d.due(g2), Some(pressed));

        // Quitting takes a waiting end at once; its timer then finds nothing.
        let g3 = d.request(pressed).unwrap();
        assert_eq!(d.take(), Some(pressed));
        assert_eq!(d.due(g3), None);
        assert_eq!(d.take(), None);
    }
}
