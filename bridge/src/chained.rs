//! A `publish` call received over HTTP: the auth component POSTs the JSON
//! of `amqp-bridge-wire` to `http://amqp-bridge.spin.internal/publish`
//! (Spin's service chaining) and reads the report from the answer. The
//! component's route is private, so nothing outside the app reaches it.

use crate::{Broker, CloseReason, Destination, Message, Outcome, PublishError, PublishReport};
use amqp_bridge_wire as wire;

/// An HTTP answer: status and JSON body.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// 405 for anything but a POST, 404 off [`wire::PATH`], 400 for a body that
/// is not a publish call; otherwise the publish is made and its report is
/// the 200's body, whatever the broker said.
pub fn answer(post: bool, path: &str, body: &[u8]) -> Answer {
    let path = path.split('?').next().unwrap_or_default();
    if path != wire::PATH {
        return refusal(404, format!("the bridge answers only {}", wire::PATH));
    }
    if !post {
        return refusal(405, "a publish call is a POST".into());
    }
    let call: wire::PublishRequest = match serde_json::from_slice(body) {
        Ok(call) => call,
        Err(e) => return refusal(400, format!("not a publish call: {e}")),
    };
    let messages = call.messages.into_iter().map(message).collect();
    let report = crate::publish(broker(call.broker), destination(call.destination), messages);
    Answer { status: 200, body: serde_json::to_vec(&wire_report(report)).unwrap_or_default() }
}

fn refusal(status: u16, error: String) -> Answer {
    Answer { status, body: serde_json::to_vec(&serde_json::json!({ "error": error })).unwrap_or_default() }
}

fn broker(b: wire::Broker) -> Broker {
    Broker {
        host: b.host,
        port: b.port,
        username: b.username,
        password: b.password,
        vhost: b.vhost,
        connect_timeout_ms: b.connect_timeout_ms,
        io_timeout_ms: b.io_timeout_ms,
    }
}

fn destination(d: wire::Destination) -> Destination {
    Destination { exchange: d.exchange, routing_key: d.routing_key, declare_durable_queue: d.declare_durable_queue }
}

fn message(m: wire::Message) -> Message {
    Message {
        body: m.body.into_bytes(),
        message_id: m.message_id,
        kind: m.kind,
        content_type: m.content_type,
        timestamp: m.timestamp,
        app_id: m.app_id,
        persistent: m.persistent,
    }
}

fn wire_report(report: PublishReport) -> wire::PublishReport {
    let outcomes = report
        .outcomes
        .into_iter()
        .map(|o| match o {
            Outcome::Confirmed => wire::Outcome::Confirmed,
            Outcome::Rejected => wire::Outcome::Rejected,
            Outcome::Unconfirmed => wire::Outcome::Unconfirmed,
        })
        .collect();
    let close = |r: CloseReason| wire::CloseReason { code: r.code, text: r.text, class_id: r.class_id, method_id: r.method_id };
    let error = report.error.map(|e| match e {
        PublishError::ConnectionRefused(m) => wire::PublishError::ConnectionRefused(m),
        PublishError::AuthenticationRefused(m) => wire::PublishError::AuthenticationRefused(m),
        PublishError::ConnectionClosed(r) => wire::PublishError::ConnectionClosed(close(r)),
        PublishError::ChannelClosed(r) => wire::PublishError::ChannelClosed(close(r)),
        PublishError::Timeout(m) => wire::PublishError::Timeout(m),
        PublishError::Protocol(m) => wire::PublishError::Protocol(m),
    });
    wire::PublishReport { outcomes, error }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn call(port: u16, bodies: &[&str]) -> Vec<u8> {
        let messages: Vec<_> = bodies
            .iter()
            .map(|b| wire::Message {
                body: (*b).into(),
                message_id: None,
                kind: None,
                content_type: None,
                timestamp: None,
                app_id: None,
                persistent: true,
            })
            .collect();
        let call = wire::PublishRequest {
            broker: wire::Broker {
                host: "127.0.0.1".into(),
                port,
                username: "guest".into(),
                password: "a-distinctive-password".into(),
                vhost: "/".into(),
                connect_timeout_ms: 500,
                io_timeout_ms: 500,
            },
            destination: wire::Destination { exchange: String::new(), routing_key: "q".into(), declare_durable_queue: None },
            messages,
        };
        serde_json::to_vec(&call).unwrap()
    }

    #[test]
    fn a_call_to_a_closed_port_reports_every_message_unconfirmed_and_the_refusal() {
        // A port nothing listens on: bound, then released.
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let answer = answer(true, "/publish", &call(port, &["{}", "{}"]));
        assert_eq!(answer.status, 200);
        let report: wire::PublishReport = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(report.outcomes, [wire::Outcome::Unconfirmed, wire::Outcome::Unconfirmed]);
        assert!(matches!(report.error, Some(wire::PublishError::ConnectionRefused(_))), "{report:?}");
        assert!(!String::from_utf8_lossy(&answer.body).contains("a-distinctive-password"));
    }

    #[test]
    fn other_methods_paths_and_bodies_are_refused_with_a_json_reason() {
        let body = call(5672, &[]);
        assert_eq!(answer(false, "/publish", &body).status, 405);
        assert_eq!(answer(true, "/", &body).status, 404);
        assert_eq!(answer(true, "/publish/more", &body).status, 404);
        let bad = answer(true, "/publish", b"{\"broker\": 1}");
        assert_eq!(bad.status, 400);
        let reason: serde_json::Value = serde_json::from_slice(&bad.body).unwrap();
        assert!(reason["error"].as_str().unwrap().starts_with("not a publish call"), "{reason}");
    }
}
