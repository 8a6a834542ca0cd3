//! Passphrase envelopes: small secrets sealed in age files (scrypt recipient).
//!
//! Used for the passphrase key file (`keys.age`) and the recovery copy of the keys
//! (`recovery.age`). Both are ordinary age files, so the standard `age -d` tool opens
//! them given the passphrase or recovery key — no lock-in even for the key files.

use std::io::{Read, Write};
use std::iter;
use std::path::Path;

use age::secrecy::SecretString;

use crate::error::{CoreError, Result};

/// scrypt work factor (log2 N) for envelopes. 2^16 is ~0.1–0.2 s here: every CLI command
/// with a passphrase key store pays it once, the desktop app once per unlock.
pub const WORK_FACTOR: u8 = 16;
/// The highest work factor accepted when opening: exactly what Casebook writes. A key file
/// is opened before anything else about the vault can be checked, so a hostile one that
/// declared 2^22 would make every unlock spend ~4 GiB of memory and seconds of CPU; one
/// that asks for more than we ever write is refused at once, before any scrypt runs.
pub const MAX_WORK_FACTOR: u8 = WORK_FACTOR;

/// Why an envelope did not open.
pub(crate) enum OpenError {
    /// Well-formed, but this passphrase is not the one it was sealed with.
    WrongPassphrase,
    /// Not a readable age passphrase file.
    Damaged,
    /// Asks for more key-derivation work than Casebook ever writes (a hostile or foreign file).
    ExcessiveWork,
}

/// Seals `plaintext` to `passphrase`.
pub(crate) fn seal(passphrase: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
    let mut recipient = age::scrypt::Recipient::new(SecretString::from(passphrase.to_owned()));
    recipient.set_work_factor(WORK_FACTOR);
    let encryptor = age::Encryptor::with_recipients(iter::once(&recipient as &dyn age::Recipient))
        .map_err(|e| CoreError::Crypto(e.to_string()))?;
    let mut out = Vec::new();
    let mut w = encryptor
        .wrap_output(&mut out)
        .map_err(|e| CoreError::Crypto(e.to_string()))?;
    w.write_all(plaintext)
        .and_then(|_| w.finish().map(|_| ()))
        .map_err(|e| CoreError::Crypto(e.to_string()))?;
    Ok(out)
}

/// Opens an envelope made by [`seal`].
pub(crate) fn open(passphrase: &str, sealed: &[u8]) -> std::result::Result<Vec<u8>, OpenError> {
    let decryptor = age::Decryptor::new_buffered(sealed).map_err(|_| OpenError::Damaged)?;
    if !decryptor.is_scrypt() {
        return Err(OpenError::Damaged);
    }
    let mut identity = age::scrypt::Identity::new(SecretString::from(passphrase.to_owned()));
    identity.set_max_work_factor(MAX_WORK_FACTOR);
    let mut reader = match decryptor.decrypt(iter::once(&identity as &dyn age::Identity)) {
        Ok(r) => r,
        Err(age::DecryptError::DecryptionFailed) | Err(age::DecryptError::NoMatchingKeys) => {
            return Err(OpenError::WrongPassphrase);
        }
        Err(age::DecryptError::ExcessiveWork { .. }) => return Err(OpenError::ExcessiveWork),
        Err(_) => return Err(OpenError::Damaged),
    };
    let mut out = Vec::new();
    reader
        .read_to_end(&mut out)
        .map_err(|_| OpenError::Damaged)?;
    Ok(out)
}

/// Writes a file atomically: a temp file in the same folder, fsync, rename, fsync the folder.
/// A crash leaves either the old file or the new one, never a torn one. Owner-only permissions.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    // Named after the whole file name and hidden, so it can never be a file of the person's
    // own beside a path they chose (saving "report.json" must not replace "report.tmp").
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.casebook-tmp"));
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&tmp).map_err(CoreError::io(&tmp))?;
        f.write_all(bytes).map_err(CoreError::io(&tmp))?;
        f.sync_all().map_err(CoreError::io(&tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(CoreError::io(path))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open() {
        let sealed = seal("correct horse", b"secret").unwrap();
        assert_eq!(open("correct horse", &sealed).ok().unwrap(), b"secret");
        assert!(matches!(
            open("wrong", &sealed),
            Err(OpenError::WrongPassphrase)
        ));
        let mut damaged = sealed.clone();
        damaged.truncate(20);
        assert!(matches!(
            open("correct horse", &damaged),
            Err(OpenError::Damaged)
        ));
        assert!(matches!(
            open("x", b"not age at all"),
            Err(OpenError::Damaged)
        ));
    }

    /// A file sealed with a higher work factor than Casebook writes (as a hostile key file
    /// would declare) is refused as excessive, not tried and not taken for a wrong passphrase.
    #[test]
    fn a_higher_work_factor_than_casebook_writes_is_refused_at_once() {
        let mut recipient = age::scrypt::Recipient::new(SecretString::from("pw".to_owned()));
        recipient.set_work_factor(WORK_FACTOR + 1);
        let encryptor =
            age::Encryptor::with_recipients(iter::once(&recipient as &dyn age::Recipient)).unwrap();
        let mut hostile = Vec::new();
        let mut w = encryptor.wrap_output(&mut hostile).unwrap();
        w.write_all(b"keys").unwrap();
        w.finish().unwrap();
        // age compares the declared factor with the cap before it derives anything.
        assert!(matches!(
            open("pw", &hostile),
            Err(OpenError::ExcessiveWork)
        ));
        // What Casebook writes still opens.
        assert_eq!(open("pw", &seal("pw", b"k").unwrap()).ok().unwrap(), b"k");
    }
}
