//! `sync watch`: stays running and syncs soon after a change — one made on this computer
//! (the change capture's mark moves, whichever process wrote it) or one on another computer
//! (the server's long-poll on heads answers) — and at least every few minutes besides.
//!
//! Owns only the waiting. Each run is [`crate::practice::sync_now`], exactly what `sync now`
//! does; the long-poll runs on a thread of its own with its own connection, so a run is never
//! held up by it. Another device's head that moved wakes a run; this computer's own uploads do
//! not (they would only wake a run with nothing to do).

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use casebook_core::Vault;
use casebook_core::offsite::{ServerClient, ServerError};

use crate::engine::{RemoteError, Report, SyncError};

/// How long `watch` waits, and for what.
#[derive(Debug, Clone)]
pub struct Timing {
    /// How often the change capture's mark is read for a local edit.
    pub local_check: Duration,
    /// How long one long-poll on heads may wait on the server.
    pub long_poll: Duration,
    /// A run at least this often, even when nothing woke one.
    pub at_least_every: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            local_check: Duration::from_millis(50),
            long_poll: Duration::from_secs(30),
            at_least_every: Duration::from_secs(300),
        }
    }
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Wake {
    /// The first run, as the watch starts.
    Start,
    /// A change was made on this computer.
    Here,
    /// Another computer's log grew on the server (or the server is back after being away).
    Elsewhere,
    /// Nothing happened for `at_least_every`.
    Timer,
}

/// What the long-poll thread tells the watch.
enum Heard {
    Moved,
    Revoked,
}

/// The long-poll on heads, on its own thread; it ends when the watch drops it (at the latest
/// one long-poll later).
struct Listener {
    heard: Receiver<Heard>,
    stop: Arc<AtomicBool>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl Listener {
    fn start(client: ServerClient, me: String, timing: &Timing) -> Listener {
        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, wait) = (stop.clone(), timing.long_poll);
        std::thread::Builder::new()
            .name("casebook-sync-heads".into())
            .spawn(move || listen(client, &me, wait, &flag, &tx))
            .ok();
        Listener { heard: rx, stop }
    }
}

/// Long-polls the server's heads; says `Moved` when another device's head differs from the
/// last answer, and once more after the server was unreachable (changes may have come meanwhile).
fn listen(client: ServerClient, me: &str, wait: Duration, stop: &AtomicBool, tx: &Sender<Heard>) {
    let mut tag: Option<String> = None;
    let mut seen: Option<BTreeMap<String, (u64, String)>> = None;
    let mut backoff = Duration::from_secs(1);
    while !stop.load(Ordering::SeqCst) {
        match client.wait_for_heads(tag.as_deref(), wait) {
            Ok((heads, new_tag)) => {
                backoff = Duration::from_secs(1);
                let others: BTreeMap<_, _> = heads
                    .into_iter()
                    .filter(|h| h.device_id != me)
                    .map(|h| (h.device_id, (h.seq, h.hash)))
                    .collect();
                if seen.as_ref() != Some(&others) && tx.send(Heard::Moved).is_err() {
                    return;
                }
                seen = Some(others);
                if new_tag.is_empty() {
                    // A server without tags cannot long-poll: ask again after the wait.
                    std::thread::sleep(wait);
                }
                tag = Some(new_tag).filter(|t| !t.is_empty());
            }
            Err(ServerError::DeviceRevoked) => {
                let _ = tx.send(Heard::Revoked);
                return;
            }
            Err(_) => {
                // Unreachable or refusing: try again later; when it answers, `seen` is gone
                // so the first answer wakes a run.
                seen = None;
                tag = None;
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// Waits for the next reason to run: a local edit, another computer's change, or the time.
/// Used by [`watch`] and by the desktop app's background sync.
pub struct Waiter {
    listener: Listener,
    timing: Timing,
    mark: (i64, i64),
    ran: Instant,
}

impl Waiter {
    /// Starts the long-poll (with its own connection to the server) for device `me`.
    pub fn new(client: ServerClient, me: &str, timing: Timing) -> Waiter {
        Waiter {
            listener: Listener::start(client, me.to_string(), &timing),
            timing,
            mark: (0, 0),
            ran: Instant::now(),
        }
    }

    /// Called as a run starts, with the change capture's mark read then: an edit made while
    /// the run goes on wakes the next one.
    pub fn run_starts(&mut self, mark: (i64, i64)) {
        self.mark = mark;
        self.ran = Instant::now();
    }

    /// Waits until a run is due and says why; `None` once `stop` says so. `mark` reads the
    /// change capture's mark now (`None` when the vault cannot be read just now). Fails when
    /// the server no longer accepts this computer, or the vault cannot be read.
    pub fn next(
        &mut self,
        mut mark: impl FnMut() -> Result<Option<(i64, i64)>, SyncError>,
        stop: impl Fn() -> bool,
    ) -> Result<Option<Wake>, SyncError> {
        loop {
            if stop() {
                return Ok(None);
            }
            match self.listener.heard.recv_timeout(self.timing.local_check) {
                Ok(Heard::Moved) => return Ok(Some(Wake::Elsewhere)),
                Ok(Heard::Revoked) => {
                    return Err(SyncError::Remote(RemoteError::Revoked));
                }
                Err(e) => {
                    if e == RecvTimeoutError::Disconnected {
                        // No long-poll (its thread could not start): local edits and the timer only.
                        std::thread::sleep(self.timing.local_check);
                    }
                    if mark()?.is_some_and(|m| m != self.mark) {
                        return Ok(Some(Wake::Here));
                    }
                    if self.ran.elapsed() >= self.timing.at_least_every {
                        return Ok(Some(Wake::Timer));
                    }
                }
            }
        }
    }
}

/// Syncs now, then again whenever something changes, until `each` says stop. `each` is given
/// what woke every run and how it went — a run that failed (the server away, an alarm) too —
/// and decides whether to carry on; what it stops with is what `watch` returns. Returns an
/// error of its own when the vault cannot be read or the server no longer accepts this computer.
pub fn watch(
    vault: &mut Vault,
    timing: &Timing,
    mut each: impl FnMut(Wake, Result<Report, SyncError>) -> ControlFlow<Result<(), SyncError>>,
) -> Result<(), SyncError> {
    let (settings, client) = vault.server_connection()?;
    let mut waiter = Waiter::new(client, &settings.device_id, timing.clone());
    let mut wake = Wake::Start;
    loop {
        waiter.run_starts(vault.change_mark()?);
        let result = crate::practice::sync_now(vault);
        if let ControlFlow::Break(end) = each(wake, result) {
            return end;
        }
        match waiter.next(|| Ok(Some(vault.change_mark()?)), || false)? {
            Some(w) => wake = w,
            None => return Ok(()),
        }
    }
}
