//! `GET /test-event`: queues a `TestEvent` in the outbox.

use crate::errors::ApiResult;
use crate::events::Event;
use crate::response::Response;
use serde_json::json;

pub const MESSAGE: &str = "Test event from the auth service";

pub fn get() -> ApiResult {
    let event = Event::test_event(MESSAGE);
    super::open_store()?.insert_event(&event)?;
    Ok(Response::json(200, &json!({"message": "Test event stored in the outbox", "event_id": event.id})))
}
