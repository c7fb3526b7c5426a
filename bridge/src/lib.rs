//! The `amqp-bridge` component: exports `auth:amqp/publisher`, publishing
//! batches to an AMQP 0-9-1 broker with publisher confirms over one
//! short-lived TCP connection per call, and serves the same call over HTTP
//! for Spin's service chaining (`chained`), which is how the auth component
//! reaches it: a component of its own, instantiated only when delivering.
//!
//! The codec (frames, methods, properties) and the client
//! ([`connection::publish`]) work over any `Read + Write` stream, so they
//! test natively; this file only opens the socket.

wit_bindgen::generate!({
    path: "../wit",
    world: "amqp-bridge",
    // For the tests' comparisons of reports.
    additional_derives: [PartialEq],
});

pub mod chained;
mod codec;
mod confirms;
pub mod connection;
pub mod error;
pub mod frame;
pub mod methods;
pub mod properties;
pub mod request;
mod transport;

#[cfg(test)]
mod tests;

pub use exports::auth::amqp::publisher::{
    Broker, CloseReason, Destination, Error as PublishError, Message, Outcome, PublishReport,
};
pub use transport::CLIENT_FRAME_MAX;

use request::Request;
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

/// The component; natively it is only called by the tests.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Component;

impl exports::auth::amqp::publisher::Guest for Component {
    fn publish(broker: Broker, destination: Destination, messages: Vec<Message>) -> PublishReport {
        publish(broker, destination, messages)
    }
}

#[cfg(target_arch = "wasm32")]
export!(Component);

/// Connects, publishes `messages` with confirms and closes: the export's
/// work, whichever way the call came.
pub fn publish(broker: Broker, destination: Destination, messages: Vec<Message>) -> PublishReport {
    let count = messages.len();
    let sent = Request::new(&broker, &destination, messages)
        .and_then(|request| connect(&broker).map(|stream| connection::publish(stream, &request)));
    sent.unwrap_or_else(|error| request::failed(count, error))
}

/// The service-chaining entry point: `POST /publish` from the auth component.
#[cfg(target_arch = "wasm32")]
#[spin_sdk::http_component]
fn handle_chained(req: spin_sdk::http::Request) -> spin_sdk::http::Response {
    let post = *req.method() == spin_sdk::http::Method::Post;
    let answer = chained::answer(post, req.path(), req.body());
    spin_sdk::http::Response::builder()
        .status(answer.status)
        .header("content-type", "application/json")
        .body(answer.body)
        .build()
}

/// Opens the TCP connection, with the broker's connect and I/O timeouts
/// (0 means none).
fn connect(broker: &Broker) -> Result<TcpStream, PublishError> {
    let ip: IpAddr = broker.host.trim().parse().map_err(|_| {
        PublishError::ConnectionRefused(format!(
            "broker host \"{}\" is not an IP address: Spin components have no DNS",
            broker.host
        ))
    })?;
    let addr = SocketAddr::new(ip, broker.port);
    let stream = match millis(broker.connect_timeout_ms) {
        Some(limit) => TcpStream::connect_timeout(&addr, limit),
        None => TcpStream::connect(addr),
    };
    let stream = stream.map_err(|e| match e.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock => PublishError::Timeout(format!(
            "connecting to {addr} took longer than {} ms",
            broker.connect_timeout_ms
        )),
        kind => {
            PublishError::ConnectionRefused(format!("connecting to {addr} failed ({kind:?}): {e}"))
        }
    })?;
    set_io_timeouts(&stream, millis(broker.io_timeout_ms));
    Ok(stream)
}

/// Bounds each read and write. On wasm32-wasip2, std maps these to
/// wasi-libc's SO_RCVTIMEO/SO_SNDTIMEO, which wait on the stream's pollable
/// and a monotonic-clock pollable together; a read that times out fails with
/// `WouldBlock`, reported as `timeout`. Older wasi-libc builds refused these
/// options (ENOPROTOOPT): then, rather than fail the call, it goes on without
/// a client-side limit and the host's own limits bound it.
fn set_io_timeouts(stream: &TcpStream, limit: Option<Duration>) {
    let _ = stream.set_nodelay(true);
    if limit.is_some() {
        let _ = stream.set_read_timeout(limit);
        let _ = stream.set_write_timeout(limit);
    }
}

fn millis(ms: u32) -> Option<Duration> {
    (ms > 0).then(|| Duration::from_millis(u64::from(ms)))
}
