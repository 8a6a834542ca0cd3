//! Long-poll on heads: `GET /v1/heads?wait=N&since=TAG` answers as soon as any log of the
//! account grows, so an edit on one computer reaches another in well under a second without
//! either polling.
//!
//! This module owns the wake-ups only. Every append that stores a blob calls
//! [`HeadWatch::grew`] for its account; a waiting request subscribes *before* it reads the heads
//! once more, so a blob stored between its first read and its wait is never missed. Waiters of
//! one account share one [`Notify`]; the entry goes when the last waiter leaves.
//!
//! One process sees only its own appends. The scale-out backend may run several instances
//! behind one address, so there a waiter also reads the heads again every
//! [`CROSS_INSTANCE_RECHECK`] (see `Store::shared_between_instances`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use casebook_wire::Head;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

/// The longest a client may ask to wait. Proxies commonly cut idle requests at 60 s.
pub const MAX_WAIT_SECONDS: u64 = 50;
/// How often a waiter re-reads the heads when other instances may take the appends.
pub const CROSS_INSTANCE_RECHECK: Duration = Duration::from_secs(1);

/// The wake-ups of waiting head requests, per account, and the server's shutdown.
#[derive(Default)]
pub struct HeadWatch {
    accounts: Mutex<HashMap<String, Arc<Notify>>>,
    closing: Notify,
    closed: std::sync::atomic::AtomicBool,
}

impl HeadWatch {
    /// A blob was stored in one of the account's logs: wakes everyone waiting on it.
    pub fn grew(&self, account: &str) {
        let notify = self.lock().get(account).cloned();
        if let Some(n) = notify {
            n.notify_waiters();
        }
    }

    /// The server is stopping: every waiter answers now, so shutdown does not wait on them.
    pub fn close(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        self.closing.notify_waiters();
    }

    fn is_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Notify>>> {
        // A panic while holding this map cannot leave it inconsistent (plain inserts and
        // removes), so a poisoned lock is used as it is.
        self.accounts.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn subscribe(&self, account: &str) -> Arc<Notify> {
        self.lock()
            .entry(account.to_string())
            .or_insert_with(|| Arc::new(Notify::new()))
            .clone()
    }

    fn leave(&self, account: &str, notify: Arc<Notify>) {
        let mut map = self.lock();
        drop(notify);
        if map.get(account).is_some_and(|n| Arc::strong_count(n) == 1) {
            map.remove(account);
        }
    }

    /// Waits until `read` returns heads whose tag differs from `since`, or `wait` has passed,
    /// or the server is closing; returns the last heads read. `recheck` re-reads the heads that
    /// often even without a wake-up (for appends made by another instance).
    pub async fn wait_for_change<F, Fut, E>(
        &self,
        account: &str,
        since: &str,
        wait: Duration,
        recheck: Option<Duration>,
        mut read: F,
    ) -> Result<Vec<Head>, E>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Vec<Head>, E>>,
    {
        let deadline = tokio::time::Instant::now() + wait;
        let notify = self.subscribe(account);
        let result = async {
            loop {
                let woken = notify.notified();
                let closing = self.closing.notified();
                tokio::pin!(woken, closing);
                // Registered before the read: an append between the read and the wait still wakes us.
                woken.as_mut().enable();
                closing.as_mut().enable();
                let heads = read().await?;
                if tag(&heads) != since || self.is_closed() {
                    return Ok(heads);
                }
                let now = tokio::time::Instant::now();
                if now >= deadline {
                    return Ok(heads);
                }
                let until = match recheck {
                    Some(r) => deadline.min(now + r),
                    None => deadline,
                };
                tokio::select! {
                    _ = &mut woken => {}
                    _ = &mut closing => {}
                    _ = tokio::time::sleep_until(until) => {}
                }
            }
        }
        .await;
        self.leave(account, notify);
        result
    }
}

/// A short tag of a set of heads (sent as the `ETag`, given back as `since`): any change to
/// any device's head changes it.
pub fn tag(heads: &[Head]) -> String {
    let mut sorted: Vec<&Head> = heads.iter().collect();
    sorted.sort_by(|a, b| a.device_id.cmp(&b.device_id));
    let mut h = Sha256::new();
    for head in sorted {
        h.update(head.device_id.as_bytes());
        h.update([0]);
        h.update(head.seq.to_be_bytes());
        h.update(head.hash.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..12])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    fn head(seq: u64) -> Vec<Head> {
        vec![Head {
            device_id: "d1".into(),
            seq,
            hash: format!("{seq:064x}"),
        }]
    }

    #[test]
    fn the_tag_changes_with_any_head_and_not_with_order() {
        let a = vec![
            Head {
                device_id: "a".into(),
                seq: 1,
                hash: "x".into(),
            },
            Head {
                device_id: "b".into(),
                seq: 2,
                hash: "y".into(),
            },
        ];
        let mut b = a.clone();
        b.reverse();
        assert_eq!(tag(&a), tag(&b));
        let mut c = a.clone();
        c[1].seq = 3;
        assert_ne!(tag(&a), tag(&c));
        let mut d = a.clone();
        d[0].hash = "z".into();
        assert_ne!(tag(&a), tag(&d));
        assert_ne!(tag(&[]), tag(&a));
    }

    #[tokio::test]
    async fn a_stale_tag_answers_at_once() {
        let w = HeadWatch::default();
        let started = std::time::Instant::now();
        let heads = w
            .wait_for_change(
                "acct",
                "not the tag",
                Duration::from_secs(30),
                None,
                || async { Ok::<_, ()>(head(1)) },
            )
            .await
            .unwrap();
        assert_eq!(heads, head(1));
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn an_append_wakes_the_waiter_and_its_entry_goes() {
        let w = Arc::new(HeadWatch::default());
        let seq = Arc::new(AtomicU64::new(1));
        let since = tag(&head(1));
        let waiter = {
            let (w, seq) = (w.clone(), seq.clone());
            tokio::spawn(async move {
                w.wait_for_change("acct", &since, Duration::from_secs(30), None, || {
                    let s = seq.load(Ordering::SeqCst);
                    async move { Ok::<_, ()>(head(s)) }
                })
                .await
            })
        };
        // Until the waiter has subscribed, an append could come before it reads: it would see
        // seq 2 on its first read. Either way it must answer with seq 2.
        tokio::time::sleep(Duration::from_millis(50)).await;
        seq.store(2, Ordering::SeqCst);
        w.grew("acct");
        let heads = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("woken well before its 30 s")
            .unwrap()
            .unwrap();
        assert_eq!(heads, head(2));
        assert!(
            w.lock().is_empty(),
            "the account's entry goes with its last waiter"
        );
    }

    #[tokio::test]
    async fn another_accounts_append_does_not_answer() {
        let w = Arc::new(HeadWatch::default());
        let since = tag(&head(1));
        let waiter = {
            let w = w.clone();
            tokio::spawn(async move {
                w.wait_for_change("mine", &since, Duration::from_millis(400), None, || async {
                    Ok::<_, ()>(head(1))
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        w.grew("theirs");
        let started = std::time::Instant::now();
        let heads = waiter.await.unwrap().unwrap();
        assert_eq!(heads, head(1), "unchanged heads after the full wait");
        assert!(
            started.elapsed() >= Duration::from_millis(250),
            "it waited out its time"
        );
    }

    #[tokio::test]
    async fn closing_answers_every_waiter() {
        let w = Arc::new(HeadWatch::default());
        let since = tag(&head(1));
        let waiter = {
            let w = w.clone();
            tokio::spawn(async move {
                w.wait_for_change("acct", &since, Duration::from_secs(30), None, || async {
                    Ok::<_, ()>(head(1))
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        w.close();
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("answered at shutdown")
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn a_recheck_finds_an_append_made_elsewhere() {
        let w = HeadWatch::default();
        let since = tag(&head(1));
        let reads = AtomicU64::new(0);
        let heads = tokio::time::timeout(
            Duration::from_secs(5),
            w.wait_for_change(
                "acct",
                &since,
                Duration::from_secs(30),
                Some(Duration::from_millis(50)),
                || {
                    // Another instance stores seq 2 after the third read; nobody calls `grew` here.
                    let n = reads.fetch_add(1, Ordering::SeqCst);
                    async move { Ok::<_, ()>(head(if n >= 3 { 2 } else { 1 })) }
                },
            ),
        )
        .await
        .expect("found by re-reading, well before 30 s")
        .unwrap();
        assert_eq!(heads, head(2));
    }
}
