//! Giving memory back once the app goes quiet.
//!
//! Unlocking reads the day, the work to do and the client list; SQLite keeps the pages it
//! read in its cache, and the allocator keeps what was freed on its free lists. Neither is
//! needed while the therapist is in session with the app idle, so a few seconds after an
//! unlock (and at lock) the app asks SQLite to drop its cache and, on glibc, hands the
//! free pages back to the system (`malloc_trim`). Measured in docs/performance.md.

use std::time::Duration;

use tauri::{AppHandle, Manager};

use crate::state::AppState;

/// How long after an unlock the app counts as settled (Today and its lists painted).
pub const SETTLE_AFTER: Duration = Duration::from_secs(3);

/// After [`SETTLE_AFTER`], gives back the vault's page cache and the allocator's free pages.
/// Never waits for a busy vault: if a command holds it then, the cache stays.
pub fn release_after_unlock(app: &AppHandle) {
    let app = app.clone();
    let _ = std::thread::Builder::new()
        .name("release-memory".into())
        .spawn(move || {
            std::thread::sleep(SETTLE_AFTER);
            let state = app.state::<AppState>();
            if let Some(slot) = state.try_vault_slot()
                && let Some(vault) = slot.as_ref()
            {
                // Only memory is at stake: a failure leaves the cache where it was.
                let _ = vault.release_cache();
            }
            return_free_pages();
        });
}

/// Hands the allocator's free pages back to the system (glibc only; elsewhere nothing).
pub fn return_free_pages() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own arenas; it takes no pointer of ours.
    unsafe {
        libc::malloc_trim(0);
    }
}
