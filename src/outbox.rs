//! Delivery of the transactional outbox to RabbitMQ: claim the oldest
//! pending rows, publish them through the bridge with confirms, mark the
//! confirmed ones published; the rest keep their place and wait. Publishers
//! take turns (the store's publishing turn: an advisory lock on PostgreSQL,
//! a lease row on SQLite), so events leave in outbox order.

use crate::broker::{describe, BrokerConfig, Message, Outcome, APP_ID};
use crate::errors::Unavailable;
use crate::store::{BatchOutcome, PendingEvent, Store};

/// Rows per publish call.
pub const BATCH_SIZE: i64 = 100;
/// Batches delivered after a response (bounded, so one request never works
/// for long); a scheduler's flush takes the rest.
pub const AFTER_RESPONSE_BATCHES: usize = 10;
/// Batches one `POST /admin/outbox/flush` delivers at most.
pub const FLUSH_BATCHES: usize = 100;

/// What one drain achieved.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DrainReport {
    /// Ids of the events the broker confirmed.
    pub published: Vec<String>,
    /// Rows claimed but not confirmed.
    pub held_back: usize,
    /// Why delivery stopped early, if it did.
    pub error: Option<String>,
}

fn message(event: &PendingEvent) -> Message {
    Message {
        body: event.body.clone(),
        message_id: Some(event.id.clone()),
        kind: Some(event.name.clone()),
        content_type: Some("application/json".into()),
        timestamp: u64::try_from(event.created_epoch).ok(),
        app_id: Some(APP_ID.into()),
        persistent: true,
    }
}

/// Publishes one claimed batch within the store's publishing turn;
/// `Ok(false)` when there is nothing more to do now.
fn drain_batch(store: &dyn Store, broker: &BrokerConfig, report: &mut DrainReport) -> Result<bool, Unavailable> {
    if !store.begin_batch()? {
        // Another publisher has the turn; it publishes what is pending.
        return Ok(false);
    }
    let batch = match store.claim_pending(BATCH_SIZE) {
        Ok(batch) if !batch.is_empty() => batch,
        Ok(_) => {
            store.cancel_batch();
            return Ok(false);
        }
        Err(err) => {
            store.cancel_batch();
            return Err(err);
        }
    };
    let messages: Vec<Message> = batch.iter().map(message).collect();
    let outcome = broker.publish(messages);
    let mut confirmed = Vec::new();
    for (event, result) in batch.iter().zip(outcome.outcomes.iter().chain(std::iter::repeat(&Outcome::Unconfirmed))) {
        if *result == Outcome::Confirmed {
            confirmed.push(event.seq);
            report.published.push(event.id.clone());
        }
    }
    let claimed: Vec<i64> = batch.iter().map(|e| e.seq).collect();
    let error = match (&outcome.error, confirmed.len() < claimed.len()) {
        (Some(err), _) => Some(describe(err)),
        (None, true) => Some("the broker rejected some messages".to_owned()),
        (None, false) => None,
    };
    report.held_back += claimed.len() - confirmed.len();
    let more_waiting =
        store.finish_batch(&BatchOutcome { confirmed: &confirmed, claimed: &claimed, error: error.as_deref() })?;
    if let Some(error) = error {
        eprintln!("auth: outbox delivery stopped: {error}");
        report.error = Some(error);
        return Ok(false);
    }
    Ok(claimed.len() as i64 == BATCH_SIZE || more_waiting)
}

/// Drains up to `max_batches` batches, oldest first, stopping at the first
/// failure (the broker is then probably down: the rest waits).
pub fn drain(store: &dyn Store, broker: &BrokerConfig, max_batches: usize) -> DrainReport {
    let mut report = DrainReport::default();
    for _ in 0..max_batches {
        match drain_batch(store, broker, &mut report) {
            Ok(true) => continue,
            Ok(false) => break,
            Err(err) => {
                report.error = Some(format!("database: {}", err.code()));
                break;
            }
        }
    }
    report
}
