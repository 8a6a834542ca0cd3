//! One Casebook app per vault. Started a second time (a double click on the launcher, a
//! second login session's autostart), Casebook brings the open window forward and the new
//! process leaves, rather than run two session clocks over one vault and its clock file.
//!
//! The claim is an exclusive lock on a file named after the vault's folder (a hash of its
//! full path) in the user's runtime folder (`$XDG_RUNTIME_DIR/casebook`, which is made for
//! exactly this; where there is none, the vault folder itself). The operating system lets
//! the lock go the moment the process ends, however it ends, so a crash never leaves a
//! stale claim behind. On Unix the running app also listens on a socket beside it; the
//! second start connects and says "show", and the running app brings its window forward.
//! (Elsewhere, or where the socket cannot be made, the second start just leaves.) Nothing
//! is added to the vault folder when there is a runtime folder, so backups, exports and
//! "restore into an empty folder" never meet these files.

use std::fs::{File, OpenOptions, TryLockError};
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
    #[cfg_attr(not(unix), allow(dead_code))]
    socket: PathBuf,
}

/// The running app, from a second start's side.
pub struct OtherInstance {
    #[cfg_attr(not(unix), allow(dead_code))]
    socket: PathBuf,
}

/// Claims `vault_dir` for this process (making the folder, private, if it is new), with
/// the lock in the runtime folder `run_dir` (or, given none, in the vault folder).
pub fn claim(vault_dir: &Path, run_dir: Option<&Path>) -> io::Result<Instance> {
    make_private_dir(vault_dir)?;
    let (dir, stem) = match run_dir {
        Some(run) => {
            make_private_dir(run)?;
            let full = std::fs::canonicalize(vault_dir)?;
            let hash = Sha256::digest(full.as_os_str().as_encoded_bytes());
            let short: String = hash[..8].iter().map(|b| format!("{b:02x}")).collect();
            (run.to_path_buf(), format!("vault-{short}"))
        }
        None => (vault_dir.to_path_buf(), "app".to_string()),
    };
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(format!("{stem}.lock")))?;
    let socket = dir.join(format!("{stem}.sock"));
    match file.try_lock() {
        Ok(()) => Ok(Instance::First(Claim {
            _lock: file,
            socket,
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

fn make_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

impl Claim {
    /// Calls `show` (on a thread of its own) each time another start asks for the window.
    /// Unix only; elsewhere the other start simply leaves.
    pub fn serve(&self, show: impl Fn() + Send + 'static) -> io::Result<()> {
        #[cfg(unix)]
        {
            use std::io::Read;
            use std::os::unix::net::UnixListener;
            // Left by an app that ended without tidying up; ours now, as we hold the lock.
            let _ = std::fs::remove_file(&self.socket);
            let listener = UnixListener::bind(&self.socket)?;
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let mut word = [0u8; 4];
                    if stream.take(4).read_exact(&mut word).is_ok() && &word == b"show" {
                        show();
                    }
                }
            });
        }
        #[cfg(not(unix))]
        let _ = show;
        Ok(())
    }
}

impl OtherInstance {
    /// Asks the running app to bring its window forward.
    pub fn show(&self) -> io::Result<()> {
        #[cfg(unix)]
        {
            use std::io::Write;
            let mut stream = std::os::unix::net::UnixStream::connect(&self.socket)?;
            stream.write_all(b"show")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn the_second_claim_finds_the_first_and_asks_it_to_show() {
        for in_run_dir in [true, false] {
            second_claim_finds_the_first(in_run_dir);
        }
    }

    fn second_claim_finds_the_first(in_run_dir: bool) {
        let dir = tempfile::tempdir().expect("temp dir");
        let vault = dir.path().join("vault");
        let run_dir = dir.path().join("run");
        let run = in_run_dir.then_some(run_dir.as_path());
        let claim = |v: &Path| claim(v, run);
        let Instance::First(first) = claim(&vault).expect("claim") else {
            panic!("nothing else had the vault");
        };
        let (shown, asked) = mpsc::channel();
        first
            .serve(move || shown.send(()).expect("send"))
            .expect("serve");

        let Instance::Another(other) = claim(&vault).expect("claim") else {
            panic!("the vault was claimed already");
        };
        other.show().expect("ask");
        asked
            .recv_timeout(Duration::from_secs(5))
            .expect("the first app was asked to show its window");

        // Gone (crashed or quit): the next start has the vault, and its socket replaces
        // the one left behind.
        drop(first);
        let Instance::First(next) = claim(&vault).expect("claim") else {
            panic!("the first app had let go");
        };
        next.serve(|| {}).expect("a stale socket is replaced");
        let in_vault = std::fs::read_dir(&vault).expect("vault").count();
        assert_eq!(in_vault, if in_run_dir { 0 } else { 2 }, "lock and socket");

        // Another vault is another app's business.
        let elsewhere = dir.path().join("other-vault");
        assert!(matches!(claim(&elsewhere), Ok(Instance::First(_))));
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
