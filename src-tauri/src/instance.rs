//! One Casebook app per vault. Started a second time (a double click on the launcher, a
//! second login session's autostart), Casebook brings the open window forward and the new
//! process leaves, rather than run two session clocks over one vault and its clock file.
//!
//! The claim is an exclusive lock on the vault folder itself (on Unix; elsewhere on an
//! `app.lock` file inside it), so every start on the same folder meets the same lock
//! whatever its environment, and nothing is added to the folder. The operating system lets
//! the lock go the moment the process ends, however it ends, so a crash never leaves a
//! stale claim behind. The running app also listens on a socket in the user's runtime
//! folder (`$XDG_RUNTIME_DIR/casebook`, named after a hash of the vault's full path),
//! bound as soon as the lock is taken; a second start connects and says "show", and the
//! running app brings its window forward. Without a runtime folder (or where the socket
//! cannot be made) the second start still leaves, saying why it could not do more.

use std::fs::{File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// What [`claim`] found.
pub enum Instance {
    /// This is the only Casebook app on the vault: keep the claim for the app's lifetime.
    First(Claim),
    /// Another Casebook app has the vault open.
    Another(OtherInstance),
}

/// Held by the running app; dropping it (or the process ending) lets the vault go.
pub struct Claim {
    _lock: File,
    /// Where a second start asks for the window; the reason if there is nowhere.
    listener: Result<Listener, io::Error>,
}

#[cfg(unix)]
type Listener = std::os::unix::net::UnixListener;
#[cfg(not(unix))]
type Listener = ();

/// The running app, from a second start's side.
pub struct OtherInstance {
    socket: Option<PathBuf>,
}

/// Claims `vault_dir` for this process (making the folder, private, if it is new); the
/// socket goes in the runtime folder `run_dir`, if there is one.
pub fn claim(vault_dir: &Path, run_dir: Option<&Path>) -> io::Result<Instance> {
    make_private_dir(vault_dir)?;
    let lock = lock_file(vault_dir)?;
    let socket = match run_dir {
        Some(run) => Some(socket_path(vault_dir, run)?),
        None => None,
    };
    match lock.try_lock() {
        Ok(()) => Ok(Instance::First(Claim {
            _lock: lock,
            // Listening at once, so a second start a moment after this one finds us.
            listener: match &socket {
                Some(path) => listen(path),
                None => Err(io::Error::other(
                    "there is no runtime folder for its socket",
                )),
            },
        })),
        Err(TryLockError::WouldBlock) => Ok(Instance::Another(OtherInstance { socket })),
        Err(TryLockError::Error(e)) => Err(e),
    }
}

/// The user's runtime folder for Casebook (`$XDG_RUNTIME_DIR/casebook` on Linux).
pub fn run_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "casebook")
        .and_then(|d| d.runtime_dir().map(Path::to_path_buf))
}

#[cfg(unix)]
fn lock_file(vault_dir: &Path) -> io::Result<File> {
    File::open(vault_dir)
}

#[cfg(not(unix))]
fn lock_file(vault_dir: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(vault_dir.join("app.lock"))
}

fn socket_path(vault_dir: &Path, run: &Path) -> io::Result<PathBuf> {
    make_private_dir(run)?;
    let full = std::fs::canonicalize(vault_dir)?;
    let hash = Sha256::digest(full.as_os_str().as_encoded_bytes());
    let short: String = hash[..8].iter().map(|b| format!("{b:02x}")).collect();
    Ok(run.join(format!("vault-{short}.sock")))
}

fn make_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(unix)]
fn listen(path: &Path) -> io::Result<Listener> {
    // Left by an app that ended without tidying up; ours now, as we hold the lock.
    let _ = std::fs::remove_file(path);
    std::os::unix::net::UnixListener::bind(path)
}

#[cfg(not(unix))]
fn listen(_path: &Path) -> io::Result<Listener> {
    Err(io::Error::other("not on this system"))
}

impl Claim {
    /// Calls `show` (on a thread of its own) each time another start asks for the window.
    /// Fails, saying why, when there is no socket to listen on.
    pub fn serve(&mut self, show: impl Fn() + Send + 'static) -> io::Result<()> {
        let listener = std::mem::replace(
            &mut self.listener,
            Err(io::Error::other("already being served")),
        )?;
        #[cfg(unix)]
        std::thread::spawn(move || {
            use std::io::Read;
            for stream in listener.incoming().flatten() {
                // A caller that connects and says nothing must not hold up the next one.
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(1)));
                let mut word = [0u8; 4];
                if stream.take(4).read_exact(&mut word).is_ok() && &word == b"show" {
                    show();
                }
            }
        });
        #[cfg(not(unix))]
        let _ = (listener, show);
        Ok(())
    }
}

impl OtherInstance {
    /// Asks the running app to bring its window forward. A running app that has only just
    /// started may not be listening yet: tries for about two seconds.
    pub fn show(&self) -> io::Result<()> {
        let Some(socket) = &self.socket else {
            return Err(io::Error::other(
                "there is no runtime folder to reach it through",
            ));
        };
        #[cfg(unix)]
        {
            use std::io::Write;
            let mut tries = 0;
            let mut stream = loop {
                match std::os::unix::net::UnixStream::connect(socket) {
                    Ok(s) => break s,
                    Err(e) if tries >= 20 => return Err(e),
                    Err(_) => {
                        tries += 1;
                        std::thread::sleep(std::time::Duration::from_millis(100));
                    }
                }
            };
            stream.write_all(b"show")
        }
        #[cfg(not(unix))]
        {
            let _ = socket;
            Err(io::Error::other("not on this system"))
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn the_second_claim_finds_the_first_and_asks_it_to_show() {
        let dir = tempfile::tempdir().expect("temp dir");
        let vault = dir.path().join("vault");
        let run = dir.path().join("run");
        let claim = |v: &Path| claim(v, Some(&run));
        let Instance::First(mut first) = claim(&vault).expect("claim") else {
            panic!("nothing else had the vault");
        };
        let (shown, asked) = mpsc::channel();
        first
            .serve(move || shown.send(()).expect("send"))
            .expect("serve");

        let Instance::Another(other) = claim(&vault).expect("claim") else {
            panic!("the vault was claimed already");
        };
        // A caller that says nothing does not hold up the next one.
        let _silent = std::os::unix::net::UnixStream::connect(other.socket.as_ref().unwrap())
            .expect("connect");
        other.show().expect("ask");
        asked
            .recv_timeout(Duration::from_secs(5))
            .expect("the first app was asked to show its window");

        // Gone (crashed or quit): the next start has the vault, and its socket replaces
        // the one left behind.
        drop(first);
        let Instance::First(mut next) = claim(&vault).expect("claim") else {
            panic!("the first app had let go");
        };
        next.serve(|| {}).expect("a stale socket is replaced");
        assert_eq!(
            std::fs::read_dir(&vault).expect("vault").count(),
            0,
            "nothing is added to the vault folder"
        );

        // Another vault is another app's business.
        assert!(matches!(
            claim(&dir.path().join("other-vault")),
            Ok(Instance::First(_))
        ));
    }

    #[test]
    fn without_a_runtime_folder_the_vault_is_still_claimed_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let vault = dir.path().join("vault");
        let Instance::First(mut first) = claim(&vault, None).expect("claim") else {
            panic!("nothing else had the vault");
        };
        assert!(first.serve(|| {}).is_err(), "nowhere to listen");
        // A start from another environment (with a runtime folder) meets the same lock.
        let run = dir.path().join("run");
        let Ok(Instance::Another(other)) = claim(&vault, Some(&run)) else {
            panic!("the vault was claimed already");
        };
        assert!(other.show().is_err(), "the first app has no socket");
        let Ok(Instance::Another(other)) = claim(&vault, None) else {
            panic!("the vault was claimed already");
        };
        assert!(other.show().is_err());
    }

    #[test]
    fn a_new_vault_folder_is_made_private() {
        let dir = tempfile::tempdir().expect("temp dir");
        let vault = dir.path().join("new").join("vault");
        assert!(matches!(claim(&vault, None), Ok(Instance::First(_))));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&vault)
                .expect("made")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700);
        }
    }
}
