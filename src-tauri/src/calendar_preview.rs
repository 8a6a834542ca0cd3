//! A calendar preview waiting for the therapist's confirmation, and the automatic refresh's
//! timing: data the app state holds (a preview holds names, so a lock drops it), kept apart
//! from the calendar job ([`crate::calendar`]) so that the state at the bottom of the shell
//! knows nothing of the jobs above it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use casebook_core::calendar::{CalendarPreview, Extraction, ImportSource, ImportWindow};
use serde::Serialize;

static NEXT_PREVIEW: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A preview waiting for the therapist's confirmation, with what it was computed from.
pub struct PendingImport {
    /// Names this preview: confirming applies it only if it is still the one waiting (an
    /// automatic check may have replaced it while the therapist was reading).
    pub(crate) id: String,
    pub(crate) extraction: Extraction,
    pub(crate) window: ImportWindow,
    pub(crate) source: ImportSource,
    pub(crate) preview: CalendarPreview,
}

impl PendingImport {
    pub(crate) fn new(
        extraction: Extraction,
        window: ImportWindow,
        source: ImportSource,
        preview: CalendarPreview,
    ) -> Self {
        PendingImport {
            id: format!("preview-{}", NEXT_PREVIEW.fetch_add(1, Ordering::SeqCst)),
            extraction,
            window,
            source,
            preview,
        }
    }

    pub(crate) fn view(&self) -> PreviewView {
        PreviewView {
            id: self.id.clone(),
            preview: self.preview.clone(),
        }
    }
}

/// A preview as the window gets it: with the id to confirm it by.
#[derive(Clone, Serialize)]
pub struct PreviewView {
    id: String,
    #[serde(flatten)]
    preview: CalendarPreview,
}

/// The calendar part of the app's state (a lock empties it: [`crate::state::AppState::lock`]).
#[derive(Default)]
pub struct CalendarState {
    pub pending: std::sync::Mutex<Option<PendingImport>>,
    pub(crate) last_auto: std::sync::Mutex<Option<Instant>>,
    pub(crate) in_flight: AtomicBool,
}
