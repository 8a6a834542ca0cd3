//! The app's background sync against the real sync server (in process, on loopback) with two
//! real vaults of one practice: while the laptop's records are open, a client added on the
//! surgery desktop arrives by itself — woken by the server's long-poll, with no command run —
//! and a change made in the app's vault is sent on by itself. While locked nothing runs; the
//! first run after an unlock catches up. Background runs never count as the therapist's
//! activity (auto-lock still comes).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use casebook_app::background_sync::{SyncRan, keep_in_sync};
use casebook_app::state::AppState;
use casebook_core::offsite::Connect;
use casebook_core::{ClientIdentity, Vault};
use casebook_sync::practice;
use casebook_sync::watch::{Timing, Wake};

const PASSPHRASE: &str = "correct horse battery staple";
const PASSWORD: &str = "a long enough account password";

/// The real casebook-sync on a loopback port, embedded backend, in this process.
fn start_server(data: &std::path::Path) -> String {
    let cfg = casebook_sync_server::config::Config::local(data);
    let addr = casebook_sync_server::start_on_loopback(cfg).expect("the server started");
    format!("http://{addr}")
}

fn connect(vault: &mut Vault, url: &str, user: &str, sign_up: bool, name: &str) {
    vault
        .server_connect(&Connect {
            url,
            username: user,
            password: PASSWORD,
            totp: None,
            sign_up,
            invite: None,
            device_name: name,
        })
        .expect("connect to the server");
    practice::enable(vault).expect("sync on");
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn names(vault: &mut Vault) -> Vec<String> {
    vault
        .list_clients(true)
        .unwrap()
        .into_iter()
        .filter_map(|c| c.full_name)
        .collect()
}

/// The app's background sync on a thread of its own, with short timings: its stop switch,
/// the runs it reports, and the thread.
fn in_background(
    state: &Arc<AppState>,
) -> (
    Arc<AtomicBool>,
    mpsc::Receiver<SyncRan>,
    std::thread::JoinHandle<()>,
) {
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, runs) = mpsc::channel();
    let worker = {
        let (state, stop) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            let timing = Timing {
                local_check: Duration::from_millis(50),
                long_poll: Duration::from_secs(20),
                at_least_every: Duration::from_secs(600),
            };
            keep_in_sync(&state, &timing, &stop, |r| {
                let _ = tx.send(r);
            });
        })
    };
    (stop, runs, worker)
}

/// Waits up to 20 s for a run that `pick` accepts.
fn wait_for(
    runs: &mpsc::Receiver<SyncRan>,
    what: &str,
    pick: impl Fn(&SyncRan) -> bool,
) -> SyncRan {
    let until = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        match runs.recv_timeout(left) {
            Ok(r) if pick(&r) => return r,
            Ok(r) => seen.push(r),
            Err(_) => break,
        }
    }
    panic!("no background run {what}; runs seen: {seen:?}");
}

/// Waits until no run has come for a second (the desktop's blobs arrive one by one, and each
/// can wake a run of its own), dropping what came.
fn settle(runs: &mpsc::Receiver<SyncRan>) {
    while runs.recv_timeout(Duration::from_secs(1)).is_ok() {}
}

/// One practice on a server of its own: the desktop's vault, and the app unlocked on the
/// laptop (whose vault starts as a copy of the desktop's, made a computer of its own), both
/// with sync on. Returns the desktop, the app's state and the laptop's vault folder.
fn practice_of_two(home: &std::path::Path) -> (Vault, Arc<AppState>, std::path::PathBuf) {
    let url = start_server(&home.join("server"));
    let user = format!(
        "practice-{}-{}",
        std::process::id(),
        home.display().to_string().len()
    );
    let desk_dir = home.join("desktop");
    let laptop_dir = home.join("laptop");
    let mut desk = Vault::init(&desk_dir, Some(PASSPHRASE)).unwrap().vault;
    copy_dir(&desk_dir, &laptop_dir);
    connect(&mut desk, &url, &user, true, "Surgery desktop");
    let mut laptop = Vault::open(&laptop_dir, Some(PASSPHRASE)).unwrap();
    laptop.reidentify().unwrap();
    connect(&mut laptop, &url, &user, false, "Laptop");
    let state = Arc::new(AppState::new(laptop_dir.clone()));
    let epoch = state.lock_epoch();
    state
        .install(&mut state.vault_slot(), laptop, epoch)
        .unwrap();
    (desk, state, laptop_dir)
}

#[test]
fn a_lock_first_sends_what_was_made_here() {
    use casebook_app::background_sync::send_pending;
    let home = tempfile::tempdir().unwrap();
    let (mut desk, state, _laptop_dir) = practice_of_two(home.path());
    // No background sync here: only what the lock does.
    state
        .vault_slot()
        .as_mut()
        .unwrap()
        .add_client(ClientIdentity {
            full_name: "Dee Before Lock".into(),
            ..Default::default()
        })
        .unwrap();
    let waiting =
        casebook_sync::engine::pending_changes(state.vault_slot().as_ref().unwrap()).unwrap();
    assert!(waiting > 0, "the new client waits to be sent");
    assert_eq!(send_pending(&state, Duration::from_secs(5)).unwrap(), 0);
    state.lock();
    practice::sync_now(&mut desk).unwrap();
    assert!(names(&mut desk).contains(&"Dee Before Lock".to_string()));
    // Locked, or nothing waiting: nothing to do.
    assert_eq!(send_pending(&state, Duration::from_secs(5)).unwrap(), 0);
}

#[test]
fn the_open_app_keeps_in_sync_by_itself_and_not_while_locked() {
    let home = tempfile::tempdir().unwrap();
    let (mut desk, state, laptop_dir) = practice_of_two(home.path());
    let started = Instant::now();
    let (stop, runs, worker) = in_background(&state);
    let first = wait_for(&runs, "at start", |r| r.wake == Wake::Start);
    assert_eq!(first.error, None, "{first:?}");

    // A client added on the desktop reaches the open laptop with no command run there.
    desk.add_client(ClientIdentity {
        full_name: "Ann Desktop".into(),
        ..Default::default()
    })
    .unwrap();
    practice::sync_now(&mut desk).unwrap();
    let got = wait_for(&runs, "receiving the desktop's client", |r| {
        r.applied_changes > 0
    });
    assert_eq!(got.wake, Wake::Elsewhere, "woken by the long-poll: {got:?}");
    assert!(names(state.vault_slot().as_mut().unwrap()).contains(&"Ann Desktop".to_string()));

    // A client added in the laptop's app goes out by itself, woken by the change here.
    settle(&runs);
    state
        .vault_slot()
        .as_mut()
        .unwrap()
        .add_client(ClientIdentity {
            full_name: "Bea Laptop".into(),
            ..Default::default()
        })
        .unwrap();
    let sent = wait_for(&runs, "sending the laptop's client", |r| r.sent > 0);
    assert_eq!(sent.wake, Wake::Here, "{sent:?}");
    practice::sync_now(&mut desk).unwrap();
    assert!(names(&mut desk).contains(&"Bea Laptop".to_string()));

    // Locked: no run, even when the desktop changes something.
    state.lock();
    while runs.try_recv().is_ok() {}
    desk.add_client(ClientIdentity {
        full_name: "Cy While Locked".into(),
        ..Default::default()
    })
    .unwrap();
    practice::sync_now(&mut desk).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        runs.try_recv().is_err(),
        "a run while the records were locked"
    );

    // Unlocked again: the first run catches up.
    let reopened = Vault::open(&laptop_dir, Some(PASSPHRASE)).unwrap();
    let epoch = state.lock_epoch();
    state
        .install(&mut state.vault_slot(), reopened, epoch)
        .unwrap();
    let caught = wait_for(&runs, "catching up after the unlock", |r| {
        r.applied_changes > 0
    });
    assert_eq!(caught.wake, Wake::Start, "{caught:?}");
    assert!(names(state.vault_slot().as_mut().unwrap()).contains(&"Cy While Locked".to_string()));

    // None of it was the therapist's activity: idle since the app started.
    assert!(
        state.idle() >= started.elapsed().saturating_sub(Duration::from_millis(500)),
        "background sync counted as activity (idle {:?} of {:?})",
        state.idle(),
        started.elapsed()
    );
    assert_eq!(
        practice::status(state.vault_slot().as_ref().unwrap(), None)
            .unwrap()
            .fingerprint,
        desk.records_fingerprint().unwrap()
    );
    stop.store(true, Ordering::SeqCst);
    worker.join().unwrap();
}

/// A run as the window hears it, failing with `error` (and an alarm's words) or not.
fn heard(error: Option<&str>, alarm_words: Option<&str>, revoked: bool) -> SyncRan {
    SyncRan {
        wake: Wake::Timer,
        received: 0,
        applied_changes: 0,
        sent: 0,
        conflicts: 0,
        error: error.map(String::from),
        alarm: alarm_words.map(|_| "rollback".to_string()),
        alarm_words: alarm_words.map(String::from),
        offline: false,
        revoked,
        catching_up: None,
    }
}

#[test]
fn only_what_needs_the_therapist_becomes_a_desktop_notification() {
    use casebook_app::background_sync::{FAILING_TOO_LONG, Notifier};
    let t0 = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut n = Notifier::default();
    let offline = heard(Some("the server could not be reached"), None, false);
    let ok = heard(None, None, false);
    let words = "The server returned older data than it had before — nothing was changed; contact whoever runs your server.";
    let alarm = heard(Some("rollback: …"), Some(words), false);

    // Runs that work, and a server out of reach for a while: nothing.
    assert_eq!(n.hear(&ok, t0, None), None);
    assert_eq!(n.hear(&offline, t0, None), None);
    assert_eq!(n.hear(&offline, t0 + Duration::from_secs(3600), None), None);
    // An alarm: told once in plain words, not again at every run while it lasts.
    assert_eq!(
        n.hear(&alarm, t0, None),
        Some(("Sync needs attention", words.to_string()))
    );
    assert_eq!(n.hear(&alarm, t0 + Duration::from_secs(60), None), None);
    // Once sync works again, a new alarm is told again.
    assert_eq!(n.hear(&ok, t0, None), None);
    assert!(n.hear(&alarm, t0, None).is_some());

    // Failing for more than a day (counted from the first failure): told once.
    let mut n = Notifier::default();
    assert_eq!(n.hear(&offline, t0, None), None);
    assert_eq!(
        n.hear(
            &offline,
            t0 + FAILING_TOO_LONG - Duration::from_secs(1),
            None
        ),
        None
    );
    let told = n
        .hear(&offline, t0 + FAILING_TOO_LONG, None)
        .expect("a day of failing is told");
    assert_eq!(told.0, "Sync has not worked for a day");
    assert_eq!(n.hear(&offline, t0 + FAILING_TOO_LONG * 2, None), None);

    // Back after a weekend away: the first failure is told at once if the last success was
    // more than a day before it; one soon after a success is not.
    let mut n = Notifier::default();
    let friday = t0 - FAILING_TOO_LONG * 3;
    assert!(n.hear(&offline, t0, Some(friday)).is_some());
    let mut n = Notifier::default();
    let an_hour_ago = t0 - Duration::from_secs(3600);
    assert_eq!(n.hear(&offline, t0, Some(an_hour_ago)), None);

    // Removed from the practice: told once, for good.
    let revoked = heard(Some("revoked"), None, true);
    let mut n = Notifier::default();
    assert_eq!(
        n.hear(&revoked, t0, None).map(|t| t.0),
        Some("This computer was removed from the practice")
    );
    assert_eq!(n.hear(&revoked, t0, None), None);
    assert_eq!(n.hear(&ok, t0, None), None);
    assert_eq!(n.hear(&revoked, t0, None), None);
}

/// A computer joined by code opens at once from the backup, read-only, while background
/// sync fetches the other computers' work since; once it has caught up (and reached the
/// state the computer that added it signed), the records can be written again.
#[test]
fn a_computer_joined_by_code_is_read_only_until_it_has_caught_up() {
    use casebook_core::{CoreError, Unrecorded};
    use casebook_sync::{adding, pairing::Code};
    let home = tempfile::tempdir().unwrap();
    let url = start_server(&home.path().join("server"));
    let user = format!("joining-{}", std::process::id());
    let mut desk = Vault::init(&home.path().join("desktop"), Some(PASSPHRASE))
        .unwrap()
        .vault;
    connect(&mut desk, &url, &user, true, "Surgery desktop");
    let add = |v: &mut Vault, name: &str| {
        v.add_client(ClientIdentity {
            full_name: name.into(),
            ..Default::default()
        })
    };
    add(&mut desk, "Ann In The Backup").unwrap();
    practice::sync_now(&mut desk).unwrap();
    desk.offsite_backup_create(&mut |_| {}).unwrap();
    // Work after the backup, each in a run of its own: what the new computer catches up on.
    for n in 0..5 {
        add(&mut desk, &format!("Client {n} Since The Backup")).unwrap();
        practice::sync_now(&mut desk).unwrap();
    }

    // The pairing: the desktop's code, answered by the new computer on a thread of its own.
    let mut invitation = adding::invite_begin(&mut desk, 600).unwrap();
    invitation.publish().unwrap();
    let code = Code::parse(&invitation.code()).unwrap();
    let joiner = {
        let (url, user) = (url.clone(), user.clone());
        std::thread::spawn(move || {
            let signed_in = adding::sign_in(&url, &user, PASSWORD, None, "Laptop").unwrap();
            adding::respond(signed_in, &code).unwrap().wait().unwrap()
        })
    };
    invitation.wait().unwrap();
    let invited = invitation.accept().unwrap();
    adding::invite_finish(&mut desk, invited).unwrap();
    let mut received = joiner.join().unwrap();
    let laptop_dir = home.path().join("laptop");
    let mut laptop = received
        .restore
        .restore(None, &laptop_dir, Some(PASSPHRASE), &mut |_| {})
        .unwrap()
        .vault;
    received.keep(&mut laptop).unwrap();
    practice::enable(&mut laptop).unwrap();

    // Opened as the app opens it: the backup's records readable, nothing writable.
    let state = Arc::new(AppState::new(laptop_dir.clone()));
    assert_eq!(state.after_unlock(&mut laptop), Vec::<String>::new());
    assert!(laptop.catching_up().unwrap());
    assert_eq!(names(&mut laptop), ["Ann In The Backup"]);
    assert!(matches!(
        add(&mut laptop, "Typed Too Soon"),
        Err(CoreError::CatchingUp)
    ));
    // A session started meanwhile is kept by the clock, not lost: recorded once caught up,
    // as starting when Start was pressed.
    let pressed = chrono::Utc::now() - chrono::Duration::seconds(90);
    {
        let mut c = state.clock.lock().unwrap();
        c.clock.defer(Unrecorded::Start {
            appointment_id: None,
            minutes: 50,
            started_at: Some(pressed),
        });
        assert_eq!(
            state.record_deferred(&mut laptop, &mut c),
            Vec::<String>::new()
        );
        assert!(
            c.clock.has_unrecorded(),
            "a start was dropped while catching up"
        );
    }
    let epoch = state.lock_epoch();
    state
        .install(&mut state.vault_slot(), laptop, epoch)
        .unwrap();

    let (stop, runs, worker) = in_background(&state);
    let caught_up = wait_for(&runs, "catching up", |r| {
        r.applied_changes > 0 && r.catching_up.is_none()
    });
    assert_eq!(caught_up.error, None, "{caught_up:?}");
    {
        let mut slot = state.vault_slot();
        let laptop = slot.as_mut().unwrap();
        assert!(
            !laptop.catching_up().unwrap(),
            "still read-only after catching up"
        );
        assert!(
            !adding::joining(laptop).unwrap(),
            "the signed state was not reached"
        );
        assert_eq!(names(laptop).len(), 6, "{:?}", names(laptop));
        add(laptop, "Typed Once Caught Up").unwrap();
        let mut c = state.clock.lock().unwrap();
        assert_eq!(state.record_deferred(laptop, &mut c), Vec::<String>::new());
        assert!(!c.clock.has_unrecorded());
        let running = laptop.sessions_running().unwrap();
        assert_eq!(running.len(), 1, "the start was recorded");
        assert_eq!(
            running[0].started_at.timestamp(),
            pressed.timestamp(),
            "recorded as starting when it was recorded, not when Start was pressed"
        );
        assert_eq!(
            running[0].ends_at - running[0].started_at,
            chrono::Duration::minutes(50)
        );
    }
    stop.store(true, Ordering::SeqCst);
    worker.join().unwrap();

    // Opened again later, a joined computer that has caught up is not held.
    state.lock();
    let mut again = Vault::open(&laptop_dir, Some(PASSPHRASE)).unwrap();
    let _ = state.after_unlock(&mut again);
    assert!(!again.catching_up().unwrap());
}
