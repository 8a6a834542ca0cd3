//! Reading a store's file exactly as it is on disk, through SQLite's own file handle.
//!
//! While a connection holds a read transaction on a store (rollback journal mode), no writer
//! can change its file, so the file's bytes are a consistent snapshot — still encrypted by
//! SQLCipher, since its codec sits above the file layer. Reading them through SQLite's handle
//! (`SQLITE_FCNTL_FILE_POINTER`, then the VFS `xRead`) rather than opening the file again
//! matters: on POSIX, closing a second descriptor of a database file drops every lock this
//! process holds on it, which would silently unlock other connections. This copies at disk
//! speed, with no decryption and re-encryption of every page as the online backup API does.

use std::ffi::{CString, c_int, c_void};
use std::io::{self, Read};
use std::marker::PhantomData;

use rusqlite::{Connection, ffi};

use crate::error::{CoreError, Result};

/// A reader over one attached store's file. Only valid while the connection it came from
/// holds a read transaction on that store; [`super`] keeps one open across the whole backup.
pub(crate) struct RawStore<'c> {
    file: *mut ffi::sqlite3_file,
    size: i64,
    pos: i64,
    _conn: PhantomData<&'c Connection>,
}

impl<'c> RawStore<'c> {
    /// The file of `schema` ("main" or "identity") of `conn`.
    pub fn open(conn: &'c Connection, schema: &str) -> Result<Self> {
        let unavailable = || CoreError::Corrupt(format!("the {schema} store's file is not open"));
        let name = CString::new(schema).map_err(|_| unavailable())?;
        let mut file: *mut ffi::sqlite3_file = std::ptr::null_mut();
        // SAFETY: `handle()` is the live connection; FILE_POINTER writes one pointer to `file`.
        let rc = unsafe {
            ffi::sqlite3_file_control(
                conn.handle(),
                name.as_ptr(),
                ffi::SQLITE_FCNTL_FILE_POINTER,
                (&mut file as *mut *mut ffi::sqlite3_file).cast::<c_void>(),
            )
        };
        // SAFETY: a non-null file from SQLite points to a valid sqlite3_file while the
        // connection is open; its methods are null only when the file is closed.
        if rc != ffi::SQLITE_OK || file.is_null() || unsafe { (*file).pMethods.is_null() } {
            return Err(unavailable());
        }
        let mut size: ffi::sqlite3_int64 = 0;
        // SAFETY: as above; xFileSize writes one integer.
        let rc = unsafe {
            match (*(*file).pMethods).xFileSize {
                Some(f) => f(file, &mut size),
                None => ffi::SQLITE_ERROR,
            }
        };
        if rc != ffi::SQLITE_OK {
            return Err(unavailable());
        }
        Ok(RawStore {
            file,
            size,
            pos: 0,
            _conn: PhantomData,
        })
    }

    pub fn len(&self) -> u64 {
        self.size.max(0) as u64
    }
}

impl Read for RawStore<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (self.size - self.pos)
            .min(buf.len() as i64)
            .min(c_int::MAX as i64);
        if n <= 0 {
            return Ok(0);
        }
        // SAFETY: the file is open (see `open`), and `buf` has room for `n` bytes.
        let rc = unsafe {
            match (*(*self.file).pMethods).xRead {
                Some(f) => f(
                    self.file,
                    buf.as_mut_ptr().cast::<c_void>(),
                    n as c_int,
                    self.pos,
                ),
                None => ffi::SQLITE_ERROR,
            }
        };
        if rc != ffi::SQLITE_OK {
            return Err(io::Error::other(format!(
                "reading the store failed (SQLite code {rc})"
            )));
        }
        self.pos += n;
        Ok(n as usize)
    }
}
