//! Small plaintext settings files in the vault folder (`backup.json`, `preferences.json`,
//! `session-clock.json`): read with defaults when absent, written atomically.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
use crate::sealed;

/// The value in `path`, or the default when there is no such file.
pub(crate) fn read_json<T: Default + for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| CoreError::Corrupt(format!("{} is not valid: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(CoreError::io(path)(e)),
    }
}

/// Writes `value` to `path` so that a crash leaves the old file or the new one.
pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let json = serde_json::to_vec_pretty(value).map_err(|e| CoreError::Corrupt(e.to_string()))?;
    sealed::write_atomically(path, &json)
}
