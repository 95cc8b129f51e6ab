//! Group commit: one writer task owns all appends. Callers queue their event
//! and wait; the writer takes everything queued (up to a cap), commits it in
//! one transaction — one fsync — and only then answers each caller. At 20:00,
//! when every observer sends at once, the queue is long and each commit
//! carries many events; when it is quiet, an event is committed alone with
//! no added delay.

use std::sync::Arc;

use async_trait::async_trait;
use pollwatch_domain::{NewEvent, Timestamp};
use tokio::sync::{mpsc, oneshot};

use crate::{Appended, Result, StoreError};

/// What a backend must provide for group commit: append a batch in one
/// durable transaction. The outer `Err` means the transaction failed and
/// nothing was stored; the inner results are per event (a conflicting retry
/// fails alone, the rest of the batch is stored).
#[async_trait]
pub trait EventLog: Send + Sync + 'static {
    async fn append_batch(
        &self,
        batch: &[Prepared],
        received_at: Timestamp,
    ) -> Result<Vec<Result<Appended>>>;
}

/// An event with the work that does not need the database already done.
/// Callers prepare their own events, in parallel, so the single writer
/// spends its time only on the transaction.
pub struct Prepared {
    pub event: NewEvent,
    pub content_hash: String,
    /// The payload as stored: compact JSON text.
    pub payload_text: String,
}

impl Prepared {
    pub fn new(event: NewEvent) -> Self {
        Self {
            content_hash: event.content_hash(),
            payload_text: event.payload.to_string(),
            event,
        }
    }
}

/// Longest a batch may take before its outcome counts as unknown.
pub const BATCH_DEADLINE: std::time::Duration = std::time::Duration::from_secs(5);

struct Job {
    event: Prepared,
    reply: oneshot::Sender<Result<Appended>>,
}

/// Handle to the writer task. Cloning is cheap; the task stops when the
/// last handle is dropped.
#[derive(Clone)]
pub struct GroupCommit {
    queue: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Largest batch in one transaction: large enough that one fsync pays
    /// for many events, small enough to bound a transaction's size.
    pub const DEFAULT_MAX_BATCH: usize = 1000;

    /// Start the writer on the current tokio runtime.
    pub fn spawn<L: EventLog + ?Sized>(log: Arc<L>, max_batch: usize) -> Self {
        let (queue, mut rx) = mpsc::channel::<Job>(max_batch * 4);
        tokio::spawn(async move {
            let mut jobs = Vec::with_capacity(max_batch);
            while rx.recv_many(&mut jobs, max_batch).await > 0 {
                let (events, replies): (Vec<Prepared>, Vec<_>) =
                    jobs.drain(..).map(|j| (j.event, j.reply)).unzip();
                let received_at = crate::now();
                // A write that hangs (a blackholed connection) must not hold
                // every observer's report hostage: past the deadline the
                // outcome is unknown, so nobody is told "stored" and the
                // phones retry with the same ids, which settles it.
                let outcome = match tokio::time::timeout(
                    BATCH_DEADLINE,
                    log.append_batch(&events, received_at),
                )
                .await
                {
                    Ok(outcome) => outcome,
                    Err(_) => Err(StoreError::Unavailable(format!(
                        "the write did not finish within {} s; its outcome is unknown",
                        BATCH_DEADLINE.as_secs()
                    ))),
                };
                match outcome {
                    Ok(results) => {
                        for (reply, result) in replies.into_iter().zip(results) {
                            // The caller may have gone (client hung up);
                            // the event is stored regardless.
                            let _ = reply.send(result);
                        }
                    }
                    Err(e) => {
                        // Every caller of the batch hears the failure: none
                        // of it was committed.
                        tracing::error!(error = %e, batch = events.len(), "event batch failed");
                        for reply in replies {
                            let _ = reply.send(Err(e.clone()));
                        }
                    }
                }
            }
        });
        Self { queue }
    }

    /// Queue an event and wait until it is durable (or refused).
    pub async fn append(&self, event: NewEvent) -> Result<Appended> {
        let (reply, answer) = oneshot::channel();
        let event = Prepared::new(event);
        self.queue
            .send(Job { event, reply })
            .await
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }
}
