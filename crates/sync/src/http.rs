//! The real server as the engine's [`Remote`]: the core's `casebook-sync` client, with its
//! errors sorted into what the engine needs to know (try again later, full, or refused).

use casebook_core::offsite::{ServerClient, ServerError};
use casebook_wire::Head;

use crate::engine::{Remote, RemoteError};

/// Blobs asked for per range request (the server's most).
const RANGE_LIMIT: u64 = 1000;

/// An account object (`None`: the server has none by that name), at most `limit` bytes.
pub(crate) fn get_object(
    client: &ServerClient,
    name: &str,
    limit: u64,
) -> Result<Option<Vec<u8>>, RemoteError> {
    use std::io::Read;
    match client.get_snapshot(name) {
        Ok(resp) => {
            let mut buf = Vec::new();
            resp.take(limit)
                .read_to_end(&mut buf)
                .map_err(|e| RemoteError::Unreachable(e.to_string()))?;
            Ok(Some(buf))
        }
        Err(ServerError::Refused(m))
            if m.contains("404") || m.to_ascii_lowercase().contains("not found") =>
        {
            Ok(None)
        }
        Err(e) => Err(sorted(e)),
    }
}

pub(crate) fn sorted(e: ServerError) -> RemoteError {
    match e {
        ServerError::QuotaFull => RemoteError::Full,
        ServerError::DeviceRevoked => RemoteError::Revoked,
        ServerError::Unreachable(_) | ServerError::RateLimited(_) | ServerError::Tls(_) => {
            RemoteError::Unreachable(e.to_string())
        }
        other => RemoteError::Refused(other.to_string()),
    }
}

impl Remote for ServerClient {
    fn heads(&mut self) -> Result<Vec<Head>, RemoteError> {
        ServerClient::heads(self).map_err(sorted)
    }

    fn put(&mut self, seq: u64, bytes: &[u8]) -> Result<(), RemoteError> {
        self.put_blob(seq, bytes.to_vec())
            .map(|_| ())
            .map_err(sorted)
    }

    fn range(
        &mut self,
        device: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, RemoteError> {
        let mut out = Vec::new();
        let mut next = from;
        while next <= to {
            let limit = (to - next + 1).min(RANGE_LIMIT);
            let got = self.blob_range(device, next, limit).map_err(sorted)?;
            let before = next;
            for (seq, bytes) in got {
                if seq > to || seq < next {
                    break;
                }
                next = seq + 1;
                out.push((seq, bytes));
            }
            // Nothing (more) in the range: the log ends, or was cut above `to` (the server
            // answers from the first blob it holds at or after `next`). Never ask again for
            // the same page.
            if next == before {
                break;
            }
        }
        Ok(out)
    }

    fn cut(&mut self, below: u64) -> Result<(), RemoteError> {
        self.cut_log(below).map(|_| ()).map_err(sorted)
    }

    fn remove_revoked(&mut self, device: &str) -> Result<(), RemoteError> {
        self.remove_revoked_log(device).map(|_| ()).map_err(sorted)
    }

    fn empty(&mut self, device: &str, through: u64) -> Result<(), RemoteError> {
        self.empty_log(device, through).map(|_| ()).map_err(sorted)
    }
}
