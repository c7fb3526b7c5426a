//! The component's `publish` against the real RabbitMQ on 127.0.0.1:5672
//! (guest/guest, vhost "/"), through a real TCP socket; each test uses its
//! own queue and deletes it.

use crate::connection::Session;
use crate::exports::auth::amqp::publisher::Guest;
use crate::methods::{Method, QueueDeclare};
use crate::request::Request;
use crate::{Broker, Component, Destination, Message, Outcome, PublishError};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const ADDR: &str = "127.0.0.1:5672";

fn broker() -> Broker {
    let addr: SocketAddr = ADDR.parse().unwrap();
    if TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err() {
        panic!("RabbitMQ is not listening on {ADDR}: start it (scripts/ensure-services)");
    }
    Broker {
        host: "127.0.0.1".into(),
        port: 5672,
        username: "guest".into(),
        password: "guest".into(),
        vhost: "/".into(),
        connect_timeout_ms: 2_000,
        io_timeout_ms: 5_000,
    }
}

/// A queue name no other run uses.
fn unique_queue(test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("amqp-bridge-test-{test}-{}-{nanos}", std::process::id())
}

fn to_queue(queue: &str, declare: bool) -> Destination {
    Destination {
        exchange: String::new(),
        routing_key: queue.into(),
        declare_durable_queue: declare.then(|| queue.into()),
    }
}

fn messages(count: usize) -> Vec<Message> {
    (0..count)
        .map(|i| Message {
            body: format!("{{\"event\":\"test\",\"n\":{i}}}").into_bytes(),
            message_id: Some(format!("amqp-bridge-test-{i}")),
            kind: Some("test.event".into()),
            content_type: Some("application/json".into()),
            timestamp: Some(1_700_000_000),
            app_id: Some("amqp-bridge-tests".into()),
            persistent: true,
        })
        .collect()
}

/// Opens a session of its own on channel 1 and runs `work` on it.
fn with_session(work: impl FnOnce(&mut Session<TcpStream>) -> Result<(), PublishError>) {
    let request = Request::new(&broker(), &to_queue("", false), Vec::new()).unwrap();
    let stream = TcpStream::connect(ADDR).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut session = Session::new(stream);
    session.login(&request).unwrap();
    session.open_channel().unwrap();
    work(&mut session).unwrap();
    session.close();
}

/// Deletes `queue`; returns how many messages it held.
fn delete_queue(queue: &str) -> u32 {
    let delete = Method::QueueDelete {
        queue: queue.into(),
        if_unused: false,
        if_empty: false,
        no_wait: false,
    };
    let mut held = 0;
    with_session(|s| {
        s.send(1, &delete)?;
        held = s.wait_for("queue.delete-ok", |m| match m {
            Method::QueueDeleteOk { message_count } => Some(message_count),
            _ => None,
        })?;
        Ok(())
    });
    held
}

#[test]
fn publishes_three_confirmed_messages() {
    let queue = unique_queue("confirmed");
    let report = Component::publish(broker(), to_queue(&queue, true), messages(3));
    let held = delete_queue(&queue);
    assert_eq!(report.error, None);
    assert_eq!(held, 3, "messages in the queue");
    assert_eq!(report.outcomes, [Outcome::Confirmed; 3]);
}

#[test]
fn a_large_body_and_a_larger_batch() {
    let queue = unique_queue("large");
    let mut batch = messages(200);
    // Over two 128 KiB frames' worth: three body frames.
    batch[7].body = vec![b'x'; 300_000];
    let report = Component::publish(broker(), to_queue(&queue, true), batch);
    assert_eq!(delete_queue(&queue), 200, "messages in the queue");
    assert_eq!(report.error, None);
    assert_eq!(report.outcomes, vec![Outcome::Confirmed; 200]);
}

#[test]
fn wrong_password_is_refused() {
    let broker = Broker {
        password: "not-the-password".into(),
        ..broker()
    };
    let report = Component::publish(broker, to_queue("unused", false), messages(1));
    assert_eq!(report.outcomes, [Outcome::Unconfirmed]);
    let Some(PublishError::AuthenticationRefused(text)) = report.error else {
        panic!("{:?}", report.error)
    };
    assert!(
        text.contains("403") && !text.contains("not-the-password"),
        "{text}"
    );
}

#[test]
fn unknown_vhost_is_refused() {
    let broker = Broker {
        vhost: "amqp-bridge-no-such-vhost".into(),
        ..broker()
    };
    let report = Component::publish(broker, to_queue("unused", false), messages(1));
    assert!(
        matches!(report.error, Some(PublishError::AuthenticationRefused(_))),
        "{:?}",
        report.error
    );
}

#[test]
fn missing_exchange_closes_the_channel() {
    let destination = Destination {
        exchange: "amqp-bridge-no-such-exchange".into(),
        ..to_queue("q", false)
    };
    let report = Component::publish(broker(), destination, messages(2));
    assert_eq!(report.outcomes, [Outcome::Unconfirmed; 2]);
    let Some(PublishError::ChannelClosed(reason)) = report.error else {
        panic!("{:?}", report.error)
    };
    assert_eq!(
        (reason.code, reason.class_id, reason.method_id),
        (404, 60, 40),
        "{}",
        reason.text
    );
}

#[test]
fn queue_with_other_arguments_fails_the_declare() {
    let queue = unique_queue("precondition");
    let transient = QueueDeclare {
        queue: queue.as_str().into(),
        passive: false,
        durable: false,
        exclusive: false,
        auto_delete: false,
        no_wait: false,
        arguments: Default::default(),
    };
    with_session(|s| {
        s.send(1, &Method::QueueDeclare(transient))?;
        s.wait_for("queue.declare-ok", |m| {
            matches!(m, Method::QueueDeclareOk { .. }).then_some(())
        })
    });
    let report = Component::publish(broker(), to_queue(&queue, true), messages(1));
    delete_queue(&queue);
    let Some(PublishError::ChannelClosed(reason)) = report.error else {
        panic!("{:?}", report.error)
    };
    assert_eq!(
        (reason.code, reason.class_id, reason.method_id),
        (406, 50, 10),
        "{}",
        reason.text
    );
}

#[test]
fn host_names_and_closed_ports_are_refused() {
    let by_name = Broker {
        host: "localhost".into(),
        ..broker()
    };
    let report = Component::publish(by_name, to_queue("q", false), messages(1));
    let Some(PublishError::ConnectionRefused(text)) = report.error else {
        panic!("{:?}", report.error)
    };
    assert!(text.contains("DNS"), "{text}");
    let closed = Broker {
        port: 1,
        ..broker()
    };
    let report = Component::publish(closed, to_queue("q", false), messages(1));
    assert!(
        matches!(report.error, Some(PublishError::ConnectionRefused(_))),
        "{:?}",
        report.error
    );
    assert_eq!(report.outcomes, [Outcome::Unconfirmed]);
}
