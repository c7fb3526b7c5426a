//! The hop to the `amqp-bridge` component: one `POST /publish` through
//! Spin's service chaining (`http://amqp-bridge.spin.internal`, which
//! `allowed_outbound_hosts` must list), carrying the batch as JSON and
//! answered with the broker's report. Spin runs the bridge in an instance
//! of its own, in process, so the many requests that deliver nothing never
//! instantiate it. Delivery runs after the response, so the hop costs no
//! client any time.
//!
//! The call is synchronous (wasi:http's blocking stream and pollable
//! calls), like the rest of delivery.

use amqp_bridge_wire::{PublishError, PublishReport, PublishRequest};

/// A report bigger than this is not the bridge's (100 outcomes and an error
/// take a few KiB).
#[cfg(target_arch = "wasm32")]
const MAX_REPORT_BYTES: usize = 64 * 1024;

/// Publishes through the bridge. When the bridge cannot be reached or
/// answers something that is not a report, every message is unconfirmed
/// (they wait in the outbox) and the error says why.
pub fn publish(call: &PublishRequest) -> PublishReport {
    let body = match serde_json::to_vec(call) {
        Ok(body) => body,
        Err(e) => return undelivered(format!("cannot encode the call: {e}")),
    };
    match post(&body) {
        Ok(report) => report,
        Err(problem) => undelivered(problem),
    }
}

/// Every message unconfirmed, and why the bridge was not reached.
fn undelivered(problem: String) -> PublishReport {
    PublishReport {
        outcomes: Vec::new(),
        error: Some(PublishError::ConnectionRefused(format!(
            "the {} component did not answer: {problem}",
            amqp_bridge_wire::COMPONENT
        ))),
    }
}

#[cfg(target_arch = "wasm32")]
fn post(body: &[u8]) -> Result<PublishReport, String> {
    use spin_sdk::wit::wasi::http0_2_0::outgoing_handler;
    use spin_sdk::wit::wasi::http0_2_0::types::{Fields, Method, OutgoingBody, OutgoingRequest, Scheme};

    let headers = Fields::from_list(&[("content-type".to_owned(), b"application/json".to_vec())])
        .map_err(|e| format!("headers: {e:?}"))?;
    let request = OutgoingRequest::new(headers);
    let set = request.set_method(&Method::Post).is_ok()
        && request.set_scheme(Some(&Scheme::Http)).is_ok()
        && request.set_authority(Some(amqp_bridge_wire::AUTHORITY)).is_ok()
        && request.set_path_with_query(Some(amqp_bridge_wire::PATH)).is_ok();
    if !set {
        return Err("the request could not be built".into());
    }
    let outgoing = request.body().map_err(|()| "no request body".to_owned())?;
    // Sent first, so that the host reads the body while it is written.
    let pending = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
    {
        let stream = outgoing.write().map_err(|()| "no body stream".to_owned())?;
        // wasi:io allows at most 4096 bytes per blocking write.
        for chunk in body.chunks(4096) {
            stream.blocking_write_and_flush(chunk).map_err(|e| format!("writing the batch: {e:?}"))?;
        }
    }
    OutgoingBody::finish(outgoing, None).map_err(|e| format!("{e:?}"))?;
    pending.subscribe().block();
    let response = match pending.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(code))) => return Err(format!("{code:?}")),
        Some(Err(())) | None => return Err("no response".into()),
    };
    let status = response.status();
    let incoming = response.consume().map_err(|()| "no response body".to_owned())?;
    let mut bytes = Vec::new();
    {
        let stream = incoming.stream().map_err(|()| "no response stream".to_owned())?;
        loop {
            match stream.blocking_read(16 * 1024) {
                Ok(chunk) if bytes.len() + chunk.len() <= MAX_REPORT_BYTES => bytes.extend_from_slice(&chunk),
                Ok(_) => return Err(format!("its answer is longer than {MAX_REPORT_BYTES} bytes")),
                Err(wasi::io::streams::StreamError::Closed) => break,
                Err(e) => return Err(format!("reading its answer: {e:?}")),
            }
        }
    }
    if status != 200 {
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
        return Err(format!("it answered {status}: {text}"));
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("its answer is not a report: {e}"))
}

/// Natively (unit tests) there is no Spin to chain to.
#[cfg(not(target_arch = "wasm32"))]
fn post(_: &[u8]) -> Result<PublishReport, String> {
    Err("service chaining runs only in the wasm32 component".into())
}
