//! Checks of what the window sends that the commands of several screens share (a new
//! passphrase, a place chosen with a picker), and the folder an export goes to when none was
//! chosen. Knows only the error type.

use zeroize::Zeroizing;

use crate::error::{UiError, UiResult};

/// A passphrase chosen for a vault (new, recovered or restored): at least 10 characters.
pub fn new_passphrase(p: Zeroizing<String>) -> UiResult<Zeroizing<String>> {
    if p.chars().count() < 10 {
        return Err(UiError::invalid(
            "Choose a passphrase of at least 10 characters.",
        ));
    }
    Ok(p)
}

/// The Downloads folder (or home), where exports the therapist asked for are written.
pub fn downloads() -> UiResult<std::path::PathBuf> {
    directories::UserDirs::new()
        .and_then(|u| {
            u.download_dir()
                .map(|d| d.to_path_buf())
                .or_else(|| Some(u.home_dir().to_path_buf()))
        })
        .ok_or_else(|| {
            UiError::internal("There is no Downloads or home folder to save the export in.")
        })
}

/// A place the therapist chose with a picker: `None` when none was given, an absolute path
/// otherwise (a relative one is refused: it would land wherever the app happened to start).
pub fn chosen_path(given: Option<String>) -> UiResult<Option<std::path::PathBuf>> {
    let Some(p) = given
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
    else {
        return Ok(None);
    };
    let path = std::path::PathBuf::from(&p);
    if !path.is_absolute() {
        return Err(UiError::invalid(format!(
            "Choose the place with the picker: “{p}” is not a full path."
        )));
    }
    Ok(Some(path))
}
