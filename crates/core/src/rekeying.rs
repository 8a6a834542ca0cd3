//! Re-keying the vault when a computer is removed from the practice: the vault's side of it.
//! The computer that removes another makes a new [`Generation`] of keys and a new
//! `recovery.age` holding every generation, sealed with the recovery key the therapist types
//! ([`Vault::prepare_rekey`]); the sync engine hands both to the practice's other computers
//! inside the signed revocation, and every computer, this one included, takes them the same
//! way ([`Vault::adopt_generation`]). From then on backups and sync blobs are sealed to the
//! newest keys, which the removed computer never had (`docs/sync.md`, "Re-keying").

use crate::audit::Action;
use crate::error::{CoreError, Result};
use crate::keys::{Generation, VaultKeys};
use crate::recovery::RecoveryKey;
use crate::sealed::{self, OpenError};
use crate::vault::{RECOVERY_FILE, Vault};

/// The engine-state key under which a computer that revoked another keeps the number of the
/// generation it handed out until it takes it ([`Vault::mark_rekeying_published`]).
const PUBLISHED: &str = "rekeying_published";

/// A new generation of keys, not yet taken by any computer.
pub struct Rekeying {
    /// Which generation it is (1 for the vault's first re-keying).
    pub number: usize,
    pub generation: Generation,
    /// The new `recovery.age`: every generation, sealed with the recovery key. (The one it
    /// replaces is named by `generation.replaces`.)
    pub sealed_keys: Vec<u8>,
}

impl Vault {
    /// How many times this vault's keys were changed (0: never).
    pub fn key_generation(&self) -> usize {
        self.keys.rekeyed.len()
    }

    /// Records, before the revocation carrying it is published, that this computer hands out
    /// generation `number` and has not taken it yet. Until it does ([`Vault::adopt_generation`]
    /// clears the mark), nothing is sealed for the server with the older keys, which the
    /// removed computer holds: the sync engine seals nothing, an off-site backup is refused
    /// and the erasure list waits for the next backup.
    pub fn mark_rekeying_published(&mut self, number: usize) -> Result<()> {
        self.sync_put(&[(PUBLISHED, &number.to_string())])
    }

    /// The generation this computer handed out and has not taken yet (see
    /// [`Vault::mark_rekeying_published`]).
    pub fn rekeying_published(&self) -> Result<Option<usize>> {
        Ok(self
            .sync_get(PUBLISHED)?
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n > self.key_generation()))
    }

    /// Refused while this computer waits to take keys it handed out itself: whatever it sealed
    /// for the server now would be readable by the computer it removed.
    pub(crate) fn refuse_while_rekeying(&self) -> Result<()> {
        match self.rekeying_published()? {
            Some(_) => Err(CoreError::Conflict(
                "this computer is handing the practice new keys and has not taken them itself yet: run `casebook sync now` first (nothing was sent)".into(),
            )),
            None => Ok(()),
        }
    }

    /// Checks `recovery_key` opens this vault's own `recovery.age` (`WrongRecoveryKey` if
    /// not), changing nothing.
    pub fn check_recovery_key(&self, recovery_key: &RecoveryKey) -> Result<()> {
        self.held_keys(recovery_key).map(|_| ())
    }

    /// Makes the next generation of keys, and the `recovery.age` that will hold it, sealed
    /// with `recovery_key` — which must open this vault's own `recovery.age` (a wrong key
    /// changes nothing). `backups`: the authentication codes of the off-site backups on the
    /// server now ([`crate::offsite::BackupsToKeep`]), which stay this vault's. Nothing is
    /// stored: the generation is taken with [`Vault::adopt_generation`] once the practice's
    /// other computers can have it too.
    pub fn prepare_rekey(
        &self,
        recovery_key: &RecoveryKey,
        backups: Vec<String>,
    ) -> Result<Rekeying> {
        let current = self.held_keys(recovery_key)?;
        let mut generation = Generation::generate(&crate::pins::digest(&current));
        generation.backups = backups;
        let mut next = self.keys.clone();
        next.rekeyed.push(generation.clone());
        let sealed_keys = sealed::seal(recovery_key.as_str(), &next.to_json())?;
        Ok(Rekeying {
            number: next.rekeyed.len(),
            generation,
            sealed_keys,
        })
    }

    /// This vault's `recovery.age`, opened with `recovery_key` and checked to be this vault's.
    fn held_keys(&self, recovery_key: &RecoveryKey) -> Result<Vec<u8>> {
        let path = self.dir().join(RECOVERY_FILE);
        let current = std::fs::read(&path).map_err(CoreError::io(&path))?;
        let held = match sealed::open(recovery_key.as_str(), &current) {
            Ok(plain) => VaultKeys::from_json(&plain)?,
            Err(OpenError::WrongPassphrase) => return Err(CoreError::WrongRecoveryKey),
            Err(OpenError::Damaged | OpenError::ExcessiveWork) => {
                return Err(CoreError::Corrupt(format!("{} is damaged", path.display())));
            }
        };
        if held.clinical != self.keys.clinical || held.identity != self.keys.identity {
            return Err(CoreError::Corrupt(format!(
                "{} holds another vault's keys",
                path.display()
            )));
        }
        Ok(current)
    }

    /// Takes generation `number` of the practice's keys (the next one after those held), and
    /// the `recovery.age` that holds it, with `values` of the sync engine's state, audited,
    /// in one transaction. `recovery.age` is written first: a crash before the commit leaves
    /// the old keys in use (and the sync engine takes the generation again at its next run).
    pub fn adopt_generation(
        &mut self,
        number: usize,
        generation: Generation,
        sealed_keys: &[u8],
        values: &[(&str, &str)],
    ) -> Result<()> {
        if number != self.keys.rekeyed.len() + 1 {
            return Err(CoreError::Conflict(format!(
                "key generation {number} cannot follow generation {}",
                self.keys.rekeyed.len()
            )));
        }
        if age::Decryptor::new(sealed_keys).is_err() {
            return Err(CoreError::Crypto(
                "the new recovery file handed over is not an age file".into(),
            ));
        }
        let path = self.dir().join(RECOVERY_FILE);
        sealed::write_atomically(&path, sealed_keys)?;
        self.act(Action::SyncRekey, |cx| {
            crate::key_ring::save(cx.tx, number, &generation)?;
            crate::pins::repin_recovery(cx.tx, sealed_keys)?;
            crate::sync_state::put_state(cx.tx, values)?;
            crate::sync_state::put_state(cx.tx, &[(PUBLISHED, "")])?;
            cx.detail(format!("generation={number}"));
            Ok(())
        })?;
        self.keys.rekeyed.push(generation);
        Ok(())
    }
}
