//! `GET /test-event`: queues a `TestEvent` in the outbox, delivers the
//! outbox, and says whether the event reached RabbitMQ.

use crate::errors::ApiResult;
use crate::events::Event;
use crate::response::Response;
use serde_json::json;

pub const MESSAGE: &str = "Test event from the auth service";

pub fn get() -> ApiResult {
    let event = Event::test_event(MESSAGE);
    super::open_store()?.insert_event(&event)?;
    let report = super::deliver_outbox(crate::outbox::AFTER_RESPONSE_BATCHES);
    let delivered = report.published.contains(&event.id);
    let mut body = json!({
        "message": if delivered { "Test event published" } else { "Test event stored; delivery pending" },
        "event_id": event.id,
        "delivered": delivered,
    });
    if let Some(error) = report.error.filter(|_| !delivered) {
        body["delivery_error"] = error.into();
    }
    Ok(Response::json(200, &body))
}
