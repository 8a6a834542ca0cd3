//! The server-wide memory budget for large bodies.
//!
//! Every request that holds a large body in memory — an upload of a blob or snapshot, a
//! range of blobs being built into its reply — first reserves that many bytes from one
//! budget shared by the whole server (a byte-counting semaphore, `memory_budget_bytes`,
//! 256 MiB unless configured). It waits its turn (first come, first served) for at most
//! [`WAIT`], then is refused with `503` and `Retry-After`. A reservation is released when
//! the body it covers is dropped: for a reply, after the last byte is handed to the
//! connection. So however many large requests arrive at once, and from however few
//! accounts, the bodies held at any moment stay within the budget. Small requests (JSON,
//! sign-in) are not counted; snapshots are sent as a stream and need no reservation.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use casebook_wire::ErrorCode;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

/// How long a request waits for room before it is refused.
pub const WAIT: Duration = Duration::from_secs(30);
/// The budget is counted in units of this many bytes.
const UNIT: u64 = 1024;
/// The smallest budget accepted (a server with less cannot take one maximum-size blob).
pub const MIN_BYTES: u64 = 1024 * 1024;

/// The shared budget.
pub struct MemoryBudget {
    units: Arc<Semaphore>,
    total_units: u32,
}

/// Bytes reserved from the budget; given back when dropped.
pub struct Reservation {
    permit: OwnedSemaphorePermit,
}

impl Reservation {
    /// Gives back all but `keep` bytes now (the rest when dropped).
    pub fn shrink_to(&mut self, keep: u64) {
        let keep_units = units_for(keep).max(1) as usize;
        let held = self.permit.num_permits();
        if held > keep_units
            && let Some(extra) = self.permit.split(held - keep_units)
        {
            drop(extra);
        }
    }
}

fn units_for(bytes: u64) -> u64 {
    bytes.div_ceil(UNIT)
}

impl MemoryBudget {
    /// A budget of `bytes` (at least [`MIN_BYTES`]).
    pub fn new(bytes: u64) -> MemoryBudget {
        let total = units_for(bytes.max(MIN_BYTES)).min(u64::from(u32::MAX >> 4)) as u32;
        MemoryBudget {
            units: Arc::new(Semaphore::new(total as usize)),
            total_units: total,
        }
    }

    /// The budget in bytes.
    pub fn total_bytes(&self) -> u64 {
        u64::from(self.total_units) * UNIT
    }

    /// Reserves `bytes` (a request needing more than the whole budget waits for all of it),
    /// waiting at most [`WAIT`].
    pub async fn reserve(&self, bytes: u64) -> Result<Reservation, ApiError> {
        self.reserve_within(bytes, WAIT).await
    }

    /// [`MemoryBudget::reserve`] with its own wait.
    pub async fn reserve_within(
        &self,
        bytes: u64,
        wait: Duration,
    ) -> Result<Reservation, ApiError> {
        let units = units_for(bytes).clamp(1, u64::from(self.total_units)) as u32;
        match tokio::time::timeout(wait, self.units.clone().acquire_many_owned(units)).await {
            Ok(Ok(permit)) => Ok(Reservation { permit }),
            _ => Err(busy()),
        }
    }
}

/// The refusal when the budget stays full: try again shortly.
pub fn busy() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Unavailable,
        "the server is busy with other large transfers: try again shortly",
    )
    .retry_after(Duration::from_secs(5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reservations_wait_for_room_and_give_it_back() {
        let b = MemoryBudget::new(4 * 1024 * 1024);
        let first = b.reserve(3 * 1024 * 1024).await.unwrap();
        let refused = b
            .reserve_within(2 * 1024 * 1024, Duration::from_millis(50))
            .await;
        assert_eq!(
            refused.err().unwrap().status,
            StatusCode::SERVICE_UNAVAILABLE
        );
        drop(first);
        let mut big = b.reserve(u64::MAX).await.unwrap();
        assert!(
            b.reserve_within(1, Duration::from_millis(50))
                .await
                .is_err(),
            "more than the whole budget takes all of it"
        );
        big.shrink_to(1024 * 1024);
        b.reserve_within(3 * 1024 * 1024, Duration::from_millis(50))
            .await
            .unwrap();
    }
}
