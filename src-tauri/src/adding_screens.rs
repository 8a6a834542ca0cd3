//! Adding a computer by code, as the two screens do it: Settings → Computers → "Add a
//! computer" on the computer that has the practice (a code, then "Add <name>?"), and the first
//! run's "Join my Casebook" on the new one (sign in, type the code, compare the words, then the
//! download with progress). Thin: each command calls `casebook_sync::adding`; the exchange's
//! state between commands is kept here, and the vault is never held while the server is talked
//! to. On top of the shell's shape (`tests/shape.rs`), beside `sync_screens`: it uses the
//! off-site copy's restore (`backups::offsite`) and the state below.

use std::sync::Mutex;

use casebook_core::offsite;
use casebook_sync::adding::{self, Invitation, Received, Responded};
use casebook_sync::engine::{RemoteError, SyncError};
use casebook_sync::pairing::{self, Code, PairError};
use casebook_sync::practice;
use serde::Serialize;
use tauri::{AppHandle, Manager};
use zeroize::Zeroizing;

use crate::error::{UiError, UiResult};
use crate::state::{AppState, blocking};

/// The exchange under way on this computer, on either side (one at a time).
#[derive(Default)]
pub struct PendingPairing {
    invitation: Mutex<Option<Invitation>>,
    responded: Mutex<Option<Responded>>,
    received: Mutex<Option<Received>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A pairing failure in words, with its name as the kind (`code-expired`, `code-wrong`,
/// `declined`, `key-check`, `code-format`), and the server unreachable named too.
fn ui_error(e: SyncError) -> UiError {
    match e {
        SyncError::Pair(p) => UiError {
            kind: p.name(),
            message: sentence(&p.to_string()),
        },
        SyncError::Remote(RemoteError::Unreachable(_)) => UiError {
            kind: "offline",
            message: "The server could not be reached: nothing was changed. Check the connection and try again.".into(),
        },
        SyncError::Core(c) => c.into(),
        SyncError::Alarm(a) => UiError {
            kind: "alarm",
            message: a.plain().to_string(),
        },
        other => UiError::invalid(other.to_string()),
    }
}

/// The engine's words as a sentence on screen: a capital first, a full stop last.
fn sentence(words: &str) -> String {
    let mut chars = words.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

/// A code made, for the "Add a computer" panel.
#[derive(Serialize)]
pub struct PairOffer {
    /// `K7Q2-M9XD-4F`.
    code: String,
    /// Seconds since the epoch.
    expires_at: i64,
}

/// Where an exchange stands, for the screen that polls it.
#[derive(Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum PairState {
    /// Nothing from the other computer yet.
    Waiting,
    /// The inviter: the new computer answered with the right code.
    Answered { name: String, words: String },
    /// The joiner: the other computer said yes; the keys are in hand.
    Accepted,
}

/// Settings → Computers → "Add a computer": a new code, valid ten minutes, on the server.
#[tauri::command]
pub async fn pair_start(app: AppHandle) -> UiResult<PairOffer> {
    blocking(app, |app, state| {
        let valid = std::env::var("CASEBOOK_PAIR_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(pairing::VALID_SECONDS);
        let invitation = state.with_vault(|v| adding::invite_begin(v, valid).map_err(ui_error))?;
        invitation.publish().map_err(ui_error)?;
        let offer = PairOffer {
            code: invitation.code(),
            expires_at: invitation.expires_at(),
        };
        // One offer at a time: a new one replaces any earlier (publish removed its messages).
        *lock(&app.state::<PendingPairing>().invitation) = Some(invitation);
        Ok(offer)
    })
    .await
}

/// The inviter looks once for the new computer's answer.
#[tauri::command]
pub async fn pair_poll(app: AppHandle) -> UiResult<PairState> {
    blocking(app, |app, _| {
        let pending = app.state::<PendingPairing>();
        let mut guard = lock(&pending.invitation);
        let invitation = guard
            .as_mut()
            .ok_or_else(|| ui_error(PairError::Expired.into()))?;
        match invitation.poll() {
            Ok(None) => Ok(PairState::Waiting),
            Ok(Some(p)) => Ok(PairState::Answered {
                name: p.joining.name,
                words: p.words,
            }),
            Err(e) => {
                guard.take();
                Err(ui_error(e))
            }
        }
    })
    .await
}

/// "Add <name>?" answered: yes adds it to the practice and hands it the keys; no tells it.
#[tauri::command]
pub async fn pair_answer(app: AppHandle, add: bool) -> UiResult<Option<String>> {
    blocking(app, move |app, state| {
        let pending = app.state::<PendingPairing>();
        let invitation = lock(&pending.invitation)
            .take()
            .ok_or_else(|| ui_error(PairError::Expired.into()))?;
        if !add {
            invitation.decline().map_err(ui_error)?;
            return Ok(None);
        }
        let invited = invitation.accept().map_err(ui_error)?;
        let added = state.with_vault(|v| adding::invite_finish(v, invited).map_err(ui_error))?;
        Ok(Some(added.device_name))
    })
    .await
}

/// The "Add a computer" panel closed before an answer: the offer is taken off the server.
#[tauri::command]
pub async fn pair_cancel(app: AppHandle) -> UiResult<()> {
    blocking(app, |app, _| {
        let pending = app.state::<PendingPairing>();
        if let Some(i) = lock(&pending.invitation).take() {
            i.cancel();
        }
        Ok(())
    })
    .await
}

/// What the joiner shows while it waits: its name as the other computer sees it, and the words.
#[derive(Serialize)]
pub struct JoinWaiting {
    name: String,
    words: String,
}

fn first_run_check(state: &AppState) -> UiResult<()> {
    if casebook_core::Vault::peek(&state.vault_dir).is_ok() {
        return Err(UiError::invalid(
            "A vault already exists on this computer: this computer is already set up.",
        ));
    }
    Ok(())
}

/// "Join my Casebook": signs in to the account as this computer and answers the offer with
/// the code typed. A wrong code is known at the other computer's first look (`join_poll`).
#[tauri::command]
pub async fn join_by_code(
    app: AppHandle,
    url: String,
    username: String,
    password: Zeroizing<String>,
    totp: Option<String>,
    code: String,
    name: String,
) -> UiResult<JoinWaiting> {
    let code = Code::parse(&code).map_err(|e| ui_error(e.into()))?;
    let totp = totp.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    let name = Some(name.trim().to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(offsite::this_computer_name);
    if name.chars().count() > 100 {
        return Err(UiError::invalid(
            "Give this computer a name of at most 100 characters.",
        ));
    }
    blocking(app, move |app, state| {
        first_run_check(state)?;
        let signed_in = adding::sign_in(&url, username.trim(), &password, totp.as_deref(), &name)
            .map_err(ui_error)?;
        let responded = adding::respond(signed_in, &code).map_err(ui_error)?;
        let out = JoinWaiting {
            name: responded.name().to_string(),
            words: responded.words(),
        };
        let pending = app.state::<PendingPairing>();
        lock(&pending.received).take();
        *lock(&pending.responded) = Some(responded);
        Ok(out)
    })
    .await
}

/// The joiner looks once for the other computer's answer; on yes the keys are opened and
/// checked (ready for `join_finish`).
#[tauri::command]
pub async fn join_poll(app: AppHandle) -> UiResult<PairState> {
    blocking(app, |app, _| {
        let pending = app.state::<PendingPairing>();
        let mut guard = lock(&pending.responded);
        let responded = guard
            .as_ref()
            .ok_or_else(|| ui_error(PairError::Expired.into()))?;
        let answer = match responded.poll() {
            Ok(None) => return Ok(PairState::Waiting),
            Ok(Some(a)) => a,
            Err(e) => {
                guard.take();
                return Err(ui_error(e));
            }
        };
        let responded = guard
            .take()
            .ok_or_else(|| ui_error(PairError::Expired.into()))?;
        let received = responded.receive(&answer).map_err(ui_error)?;
        *lock(&pending.received) = Some(received);
        Ok(PairState::Accepted)
    })
    .await
}

/// The joiner gives up (Back, or the window closed): its sign-in is undone.
#[tauri::command]
pub async fn join_cancel(app: AppHandle) -> UiResult<()> {
    blocking(app, |app, _| {
        let pending = app.state::<PendingPairing>();
        drop(lock(&pending.responded).take());
        drop(lock(&pending.received).take());
        Ok(())
    })
    .await
}

/// What joining brought.
#[derive(Serialize)]
pub struct Joined {
    clients: i64,
    notes: i64,
}

/// After the yes: the newest off-site backup restored with the keys handed over (every check
/// of a restore), and sync turned on under the entry the other computer signed; then the
/// records open at once, read-only, while background sync fetches every computer's changes
/// since the backup and checks that the state the other computer signed is reached
/// ([`crate::background_sync`]). Before the vault is put in place nothing of the practice is
/// written; a failure after leaves a vault that finishes joining at its next sync.
#[tauri::command]
pub async fn join_finish(
    app: AppHandle,
    passphrase: Option<Zeroizing<String>>,
) -> UiResult<Joined> {
    let passphrase = passphrase
        .filter(|p| !p.is_empty())
        .map(crate::inputs::new_passphrase)
        .transpose()?;
    blocking(app, move |app, state| {
        first_run_check(state)?;
        let pending = app.state::<PendingPairing>();
        let mut guard = lock(&pending.received);
        let received = guard
            .as_mut()
            .ok_or_else(|| UiError::invalid("Type the code from the other computer first."))?;
        let epoch = state.lock_epoch();
        let restored = received
            .restore
            .restore(
                None,
                &state.vault_dir,
                passphrase.as_ref().map(|p| p.as_str()),
                &mut crate::backups::offsite::progress_to(app),
            )
            .map_err(crate::backups::offsite::passphrase_words)?;
        let mut vault = restored.vault;
        received.keep(&mut vault).map_err(ui_error)?;
        guard.take();
        drop(guard);
        let enabled = practice::enable(&mut vault);
        let counts = &restored.manifest.counts;
        let out = match enabled {
            Ok(_) => Ok(Joined {
                clients: counts.clients,
                notes: counts.session_notes,
            }),
            // The records are here and checked: they open, and say what did not finish.
            Err(e) => Err(UiError {
                kind: "joined-partly",
                message: format!(
                    "Your records are restored on this computer, but joining the practice's sync did not finish: {} Settings → Computers shows where it stands.",
                    ui_error(e).message
                ),
            }),
        };
        // Opened as after an unlock: held read-only while it catches up.
        crate::backups::offsite::install_restored(app, state, vault, epoch)?;
        out
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engines_words_read_as_a_sentence() {
        assert_eq!(
            sentence(&PairError::WrongCode.to_string()),
            "The code was not right: the other computer has cancelled it — make a new one there and type it again."
        );
        assert_eq!(sentence("done."), "Done.");
        assert_eq!(sentence(""), ".");
    }
}
