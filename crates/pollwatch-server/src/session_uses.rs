//! "Last seen" of sessions, written in batches off the request path.
//!
//! A session's first request (and then one a minute) records when and
//! from what kind of device it was used. At the opening of the polls
//! 30,000 phones open within a minute; a write (and on SQLite a commit on
//! the single writer) per opening queued ahead of the observers' reports
//! and held pooled connections that the reads needed. Here the uses wait in
//! a bounded queue and one task writes what has gathered, a batch per
//! transaction. "Last seen" is a convenience for the devices list, never
//! a promise: when the queue is full or the write fails, uses are dropped
//! (and logged), and no request waits for them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use pollwatch_store::{SessionUse, Store};
use tokio::sync::mpsc;

/// Uses waiting to be written, at most: a minute of openings at national
/// scale fits several times over.
const QUEUE: usize = 16_384;
/// Written at once, at most.
const BATCH: usize = 2_000;
/// How long the writer lets uses gather after the first one arrives.
const GATHER: Duration = Duration::from_millis(200);

#[derive(Clone)]
pub struct SessionUses {
    queue: mpsc::Sender<SessionUse>,
}

impl SessionUses {
    /// Start the writer on the current runtime; it ends when the last
    /// sender is dropped, after writing what it holds.
    pub fn start(store: Arc<dyn Store>) -> Self {
        let (queue, uses) = mpsc::channel(QUEUE);
        tokio::spawn(write(store, uses));
        Self { queue }
    }

    /// Record a use; never waits.
    pub fn record(&self, used: SessionUse) {
        if let Err(e) = self.queue.try_send(used) {
            tracing::debug!(error = %e, "a session's last use was not recorded");
        }
    }
}

async fn write(store: Arc<dyn Store>, mut uses: mpsc::Receiver<SessionUse>) {
    let mut batch: Vec<SessionUse> = Vec::with_capacity(BATCH);
    while uses.recv_many(&mut batch, BATCH).await > 0 {
        if batch.len() < BATCH {
            tokio::time::sleep(GATHER).await;
            while batch.len() < BATCH {
                match uses.try_recv() {
                    Ok(u) => batch.push(u),
                    Err(_) => break,
                }
            }
        }
        let batch_len = batch.len();
        let merged = merge(std::mem::take(&mut batch));
        if let Err(e) = store.touch_sessions(&merged).await {
            tracing::warn!(error = %e, uses = batch_len, "could not record sessions' last use");
        }
    }
}

/// One use per session: the latest time, and the first device label seen
/// (the store keeps the first label it was ever given anyway).
fn merge(batch: Vec<SessionUse>) -> Vec<SessionUse> {
    let mut by: HashMap<String, SessionUse> = HashMap::with_capacity(batch.len());
    for u in batch {
        match by.get_mut(&u.token_hash) {
            Some(kept) => {
                kept.at = kept.at.max(u.at);
                if kept.device.is_empty() {
                    kept.device = u.device;
                }
            }
            None => {
                by.insert(u.token_hash.clone(), u);
            }
        }
    }
    let mut out: Vec<SessionUse> = by.into_values().collect();
    // A fixed order, so two servers' batches on PostgreSQL take row locks
    // in the same order and never deadlock.
    out.sort_by(|a, b| a.token_hash.cmp(&b.token_hash));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pollwatch_domain::Timestamp;

    fn used(hash: &str, at: i64, device: &str) -> SessionUse {
        SessionUse {
            token_hash: hash.into(),
            at: Timestamp(at),
            device: device.into(),
        }
    }

    #[test]
    fn a_batch_keeps_one_use_per_session_latest_time_first_label() {
        let merged = merge(vec![
            used("b", 5, ""),
            used("a", 9, "Chrome on Android"),
            used("b", 7, "Firefox on Linux"),
            used("a", 3, "Safari on iOS"),
        ]);
        assert_eq!(
            merged,
            vec![
                used("a", 9, "Chrome on Android"),
                used("b", 7, "Firefox on Linux"),
            ]
        );
    }
}
