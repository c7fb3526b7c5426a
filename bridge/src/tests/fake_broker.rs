//! The whole publish exchange against a scripted broker over an in-memory
//! stream: the script is what the broker says, in order; what the client
//! wrote is decoded and checked afterwards.

use crate::connection;
use crate::frame::{self, Frame, PROTOCOL_HEADER};
use crate::methods::{Close, Method, Tune};
use crate::request::Request;
use crate::{Broker, CloseReason, Destination, Message, Outcome, PublishError, PublishReport};
use amq_protocol_types::{AMQPValue, FieldTable};
use std::io::{self, Cursor, Read, Write};

const PASSWORD: &str = "s3cret-pw";
use Outcome::{Confirmed as C, Rejected as R, Unconfirmed as U};

/// Reads the script, then fails with `after_script` (EOF when `None`);
/// writes succeed until `write_budget` bytes are spent.
struct FakeStream {
    script: Cursor<Vec<u8>>,
    after_script: Option<io::ErrorKind>,
    written: Vec<u8>,
    write_budget: usize,
}

impl Read for FakeStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match (self.script.read(buf)?, self.after_script) {
            (0, Some(kind)) => Err(io::Error::new(kind, "scripted failure")),
            (n, _) => Ok(n),
        }
    }
}

impl Write for FakeStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.written.len() + buf.len() > self.write_budget {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "scripted write failure",
            ));
        }
        self.written.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What the broker says: frames in order.
#[derive(Default)]
struct Script(Vec<u8>);

impl Script {
    fn method(mut self, channel: u16, method: Method) -> Self {
        let payload = method.encode().unwrap();
        frame::encode(&Frame::Method { channel, payload }, &mut self.0).unwrap();
        self
    }

    fn raw(mut self, bytes: &[u8]) -> Self {
        self.0.extend_from_slice(bytes);
        self
    }

    fn start(self, mechanisms: &str) -> Self {
        let mut server_properties = FieldTable::default();
        server_properties.insert("product".into(), AMQPValue::LongString("RabbitMQ".into()));
        self.method(
            0,
            Method::ConnectionStart {
                version_major: 0,
                version_minor: 9,
                server_properties,
                mechanisms: mechanisms.into(),
                locales: "en_US".into(),
            },
        )
    }

    /// start, tune (frame-max 4096), open-ok, channel open-ok, select-ok.
    fn handshake(self) -> Self {
        self.start("AMQPLAIN PLAIN")
            .method(
                0,
                Method::ConnectionTune(Tune {
                    channel_max: 2047,
                    frame_max: 4096,
                    heartbeat: 60,
                }),
            )
            .method(0, Method::ConnectionOpenOk)
            .method(1, Method::ChannelOpenOk)
            .method(1, Method::ConfirmSelectOk)
    }

    fn ack(self, delivery_tag: u64, multiple: bool) -> Self {
        self.method(
            1,
            Method::BasicAck {
                delivery_tag,
                multiple,
            },
        )
    }

    fn goodbye(self) -> Self {
        self.method(1, Method::ChannelCloseOk)
            .method(0, Method::ConnectionCloseOk)
    }

    fn stream(self) -> FakeStream {
        FakeStream {
            script: Cursor::new(self.0),
            after_script: None,
            written: Vec::new(),
            write_budget: usize::MAX,
        }
    }
}

fn broker() -> Broker {
    Broker {
        host: "127.0.0.1".into(),
        port: 5672,
        username: "guest".into(),
        password: PASSWORD.into(),
        vhost: "/".into(),
        connect_timeout_ms: 1000,
        io_timeout_ms: 1000,
    }
}

fn message(i: usize, body: Vec<u8>) -> Message {
    Message {
        body,
        message_id: Some(format!("m{i}")),
        kind: Some("user.registered".into()),
        content_type: Some("application/json".into()),
        timestamp: Some(1_700_000_000),
        app_id: Some("auth-service".into()),
        persistent: true,
    }
}

fn messages(count: usize) -> Vec<Message> {
    (0..count)
        .map(|i| message(i, format!("{{\"n\":{i}}}").into_bytes()))
        .collect()
}

fn destination(queue: Option<&str>) -> Destination {
    Destination {
        exchange: "".into(),
        routing_key: "jobs".into(),
        declare_durable_queue: queue.map(Into::into),
    }
}

/// Runs a publish of `batch` against `stream`; returns the report and the
/// frames the client wrote.
fn run(
    stream: &mut FakeStream,
    queue: Option<&str>,
    batch: Vec<Message>,
) -> (PublishReport, Vec<Frame>) {
    let request = Request::new(&broker(), &destination(queue), batch).unwrap();
    let report = connection::publish(&mut *stream, &request);
    assert!(!format!("{report:?}").contains(PASSWORD));
    (report, client_frames(&stream.written))
}

fn client_frames(written: &[u8]) -> Vec<Frame> {
    assert_eq!(written.get(..8), Some(&PROTOCOL_HEADER[..]));
    let mut rest = &written[8..];
    let mut frames = Vec::new();
    while let Some((frame, used)) = frame::decode(rest, 0).unwrap() {
        frames.push(frame);
        rest = &rest[used..];
    }
    assert!(rest.is_empty(), "a partial frame was written");
    frames
}

/// The client's methods as (channel, method).
fn methods(frames: &[Frame]) -> Vec<(u16, Method)> {
    frames
        .iter()
        .filter_map(|f| match f {
            Frame::Method { channel, payload } => {
                Some((*channel, Method::decode(payload).unwrap()))
            }
            _ => None,
        })
        .collect()
}

fn names(frames: &[Frame]) -> Vec<&'static str> {
    methods(frames).iter().map(|(_, m)| m.name()).collect()
}

fn close(code: u16, text: &str, class_id: u16, method_id: u16) -> Close {
    Close {
        reply_code: code,
        reply_text: text.into(),
        class_id,
        method_id,
    }
}

fn reason(code: u16, text: &str, class_id: u16, method_id: u16) -> CloseReason {
    CloseReason {
        code,
        text: text.into(),
        class_id,
        method_id,
    }
}

#[test]
fn acks_with_multiple_and_a_nack() {
    let mut batch = messages(4);
    batch[1].body = vec![7; 10_000];
    let script = Script::default()
        .handshake()
        .method(
            1,
            Method::QueueDeclareOk {
                queue: "jobs".into(),
                message_count: 0,
                consumer_count: 0,
            },
        )
        .ack(2, true)
        .method(
            1,
            Method::BasicNack {
                delivery_tag: 3,
                multiple: false,
                requeue: false,
            },
        )
        .raw(&[0x08, 0, 0, 0, 0, 0, 0, 0xCE])
        .ack(4, false)
        .goodbye();
    let (report, frames) = run(&mut script.stream(), Some("jobs"), batch);
    assert_eq!(report.outcomes, [C, C, R, C]);
    assert!(report.error.is_none(), "{:?}", report.error);
    let mut expected = vec![
        "connection.start-ok",
        "connection.tune-ok",
        "connection.open",
        "channel.open",
        "confirm.select",
        "queue.declare",
    ];
    expected.extend(["basic.publish"; 4]);
    expected.extend(["channel.close", "connection.close"]);
    assert_eq!(names(&frames), expected);
    check_handshake(&methods(&frames));
    check_content(&frames);
}

fn check_handshake(sent: &[(u16, Method)]) {
    let Method::ConnectionStartOk {
        client_properties,
        mechanism,
        response,
        locale,
    } = &sent[0].1
    else {
        panic!("no start-ok")
    };
    assert_eq!((mechanism.as_str(), locale.as_str()), ("PLAIN", "en_US"));
    assert_eq!(
        response.as_bytes(),
        format!("\0guest\0{PASSWORD}").as_bytes()
    );
    let Some(AMQPValue::FieldTable(capabilities)) = client_properties.inner().get("capabilities")
    else {
        panic!("no capabilities")
    };
    assert_eq!(
        capabilities.inner().get("publisher_confirms"),
        Some(&AMQPValue::Boolean(true))
    );
    assert!(client_properties.contains_key("product") && client_properties.contains_key("version"));
    let tune_ok = Method::ConnectionTuneOk(Tune {
        channel_max: 1,
        frame_max: 4096,
        heartbeat: 0,
    });
    assert_eq!(sent[1], (0, tune_ok));
    assert_eq!(
        sent[2],
        (
            0,
            Method::ConnectionOpen {
                virtual_host: "/".into()
            }
        )
    );
    assert_eq!(sent[3], (1, Method::ChannelOpen));
    assert_eq!(sent[4], (1, Method::ConfirmSelect { no_wait: false }));
    let Method::QueueDeclare(declare) = &sent[5].1 else {
        panic!("no queue.declare")
    };
    assert_eq!(declare.queue.as_str(), "jobs");
    assert!(declare.durable && !declare.exclusive && !declare.auto_delete && !declare.passive);
}

/// Each publish is method, header, then the body in frame-max pieces.
fn check_content(frames: &[Frame]) {
    let first = frames
        .iter()
        .position(|f| matches!(f, Frame::Header { .. }))
        .unwrap();
    let Frame::Header {
        channel: 1,
        class_id: 60,
        body_size,
        properties,
    } = &frames[first]
    else {
        panic!("bad header")
    };
    assert_eq!(*body_size, 7);
    assert_eq!(
        properties.message_id.as_ref().map(|s| s.as_str()),
        Some("m0")
    );
    assert_eq!(
        properties.kind.as_ref().map(|s| s.as_str()),
        Some("user.registered")
    );
    assert_eq!(
        (properties.delivery_mode, properties.timestamp),
        (Some(2), Some(1_700_000_000))
    );
    // Then body 0, and message 1's method, header and 10,000 bytes in
    // 4088 + 4088 + 1824.
    let bodies: Vec<usize> = frames[first + 4..first + 7]
        .iter()
        .map(|f| match f {
            Frame::Body { channel: 1, data } => data.len(),
            other => panic!("expected a body frame, got {other:?}"),
        })
        .collect();
    assert_eq!(bodies, [4088, 4088, 1824]);
}

#[test]
fn channel_close_mid_batch() {
    let text = "NOT_FOUND - no exchange 'missing' in vhost '/'";
    let script = Script::default()
        .handshake()
        .ack(1, false)
        .method(1, Method::ChannelClose(close(404, text, 60, 40)))
        .method(0, Method::ConnectionCloseOk);
    let (report, frames) = run(&mut script.stream(), None, messages(3));
    assert_eq!(report.outcomes, [C, U, U]);
    assert_eq!(
        report.error,
        Some(PublishError::ChannelClosed(reason(404, text, 60, 40)))
    );
    let sent = methods(&frames);
    assert_eq!(sent[sent.len() - 2], (1, Method::ChannelCloseOk));
    assert!(matches!(
        sent[sent.len() - 1],
        (0, Method::ConnectionClose(_))
    ));
}

#[test]
fn queue_declared_with_other_arguments() {
    let text = "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'jobs'";
    let script = Script::default()
        .handshake()
        .method(1, Method::ChannelClose(close(406, text, 50, 10)))
        .method(0, Method::ConnectionCloseOk);
    let (report, frames) = run(&mut script.stream(), Some("jobs"), messages(2));
    assert_eq!(report.outcomes, [U, U]);
    assert_eq!(
        report.error,
        Some(PublishError::ChannelClosed(reason(406, text, 50, 10)))
    );
    assert!(!names(&frames).contains(&"basic.publish"));
}

#[test]
fn access_refused_during_the_handshake() {
    let text = "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN";
    let script = Script::default()
        .start("PLAIN")
        .method(0, Method::ConnectionClose(close(403, text, 0, 0)));
    let (report, frames) = run(&mut script.stream(), None, messages(2));
    assert_eq!(report.outcomes, [U, U]);
    assert_eq!(
        report.error,
        Some(PublishError::AuthenticationRefused(format!("403 {text}")))
    );
    assert_eq!(
        names(&frames),
        ["connection.start-ok", "connection.close-ok"]
    );
}

#[test]
fn dropped_connection_after_login_is_a_refused_login() {
    let (report, _) = run(
        &mut Script::default().start("PLAIN").stream(),
        None,
        messages(1),
    );
    assert!(
        matches!(report.error, Some(PublishError::AuthenticationRefused(_))),
        "{:?}",
        report.error
    );
}

#[test]
fn vhost_refused_on_open() {
    let text = "NOT_ALLOWED - vhost nope not found";
    let script = Script::default()
        .start("PLAIN")
        .method(
            0,
            Method::ConnectionTune(Tune {
                channel_max: 0,
                frame_max: 0,
                heartbeat: 0,
            }),
        )
        .method(0, Method::ConnectionClose(close(530, text, 10, 40)));
    let (report, frames) = run(&mut script.stream(), None, messages(1));
    assert_eq!(
        report.error,
        Some(PublishError::AuthenticationRefused(format!("530 {text}")))
    );
    let sent = methods(&frames);
    // The broker's 0s mean no limit: one channel, 128 KiB frames.
    let tune_ok = Tune {
        channel_max: 1,
        frame_max: 128 * 1024,
        heartbeat: 0,
    };
    assert_eq!(sent[1].1, Method::ConnectionTuneOk(tune_ok));
    assert_eq!(sent.last(), Some(&(0, Method::ConnectionCloseOk)));
}

#[test]
fn connection_closed_by_the_broker_mid_batch() {
    let text = "CONNECTION_FORCED - broker forced connection closure";
    let script = Script::default()
        .handshake()
        .ack(1, false)
        .method(0, Method::ConnectionClose(close(320, text, 0, 0)));
    let (report, frames) = run(&mut script.stream(), None, messages(2));
    assert_eq!(report.outcomes, [C, U]);
    assert_eq!(
        report.error,
        Some(PublishError::ConnectionClosed(reason(320, text, 0, 0)))
    );
    assert_eq!(
        methods(&frames).last(),
        Some(&(0, Method::ConnectionCloseOk))
    );
}

#[test]
fn eof_mid_batch_leaves_the_rest_unconfirmed() {
    let script = Script::default().handshake().ack(1, false);
    let (report, _) = run(&mut script.stream(), None, messages(3));
    assert_eq!(report.outcomes, [C, U, U]);
    let Some(PublishError::Protocol(text)) = report.error else {
        panic!("{:?}", report.error)
    };
    assert!(text.contains("closed the connection"), "{text}");
}

#[test]
fn read_timeout_is_a_timeout() {
    for kind in [io::ErrorKind::WouldBlock, io::ErrorKind::TimedOut] {
        let mut stream = Script::default().handshake().ack(1, false).stream();
        stream.after_script = Some(kind);
        let (report, _) = run(&mut stream, None, messages(2));
        assert_eq!(report.outcomes, [C, U]);
        assert!(
            matches!(report.error, Some(PublishError::Timeout(_))),
            "{:?}",
            report.error
        );
    }
}

#[test]
fn write_failure_reports_why_the_broker_closed() {
    let text = "FRAME_ERROR - type 3, all octets = <<>>";
    let mut stream = Script::default()
        .handshake()
        .method(0, Method::ConnectionClose(close(501, text, 0, 0)))
        .stream();
    // Enough for the handshake (under 400 bytes), not for the messages.
    stream.write_budget = 400;
    let (report, _) = run(&mut stream, None, vec![message(0, vec![0; 1000])]);
    assert_eq!(
        report.error,
        Some(PublishError::ConnectionClosed(reason(501, text, 0, 0)))
    );
}

#[test]
fn plain_must_be_offered() {
    let (report, frames) = run(
        &mut Script::default().start("AMQPLAIN EXTERNAL").stream(),
        None,
        messages(1),
    );
    let Some(PublishError::Protocol(text)) = report.error else {
        panic!("{:?}", report.error)
    };
    assert!(text.contains("PLAIN"), "{text}");
    assert!(frames.is_empty());
}

#[test]
fn garbage_and_strangers_are_protocol_errors() {
    let bad_end = Script::default()
        .handshake()
        .raw(&[0x08, 0, 0, 0, 0, 0, 0, 0x00]);
    let unknown_tag = Script::default().handshake().ack(9, false);
    let stranger = Script::default()
        .handshake()
        .method(1, Method::ChannelOpenOk);
    for (script, needle) in [
        (bad_end, "bad frame end"),
        (unknown_tag, "delivery tag 9"),
        (stranger, "channel.open-ok"),
    ] {
        let (report, _) = run(&mut script.stream(), None, messages(1));
        let Some(PublishError::Protocol(text)) = report.error else {
            panic!("{:?}", report.error)
        };
        assert!(text.contains(needle), "{text}");
        assert_eq!(report.outcomes, [U]);
    }
}

#[test]
fn ack_of_tag_zero_with_multiple_confirms_all() {
    let script = Script::default().handshake().ack(0, true).goodbye();
    let (report, _) = run(&mut script.stream(), None, messages(3));
    assert_eq!(report.outcomes, [C, C, C]);
    assert!(report.error.is_none());
}

#[test]
fn an_empty_batch_still_connects_and_closes() {
    let (report, frames) = run(
        &mut Script::default().handshake().goodbye().stream(),
        None,
        Vec::new(),
    );
    assert!(report.outcomes.is_empty() && report.error.is_none());
    assert_eq!(names(&frames).last(), Some(&"connection.close"));
}

#[test]
fn names_too_long_for_amqp_are_refused_before_connecting() {
    let mut batch = messages(2);
    batch[1].message_id = Some("x".repeat(256));
    let Err(PublishError::Protocol(text)) = Request::new(&broker(), &destination(None), batch)
    else {
        panic!("accepted a 256-byte message-id")
    };
    assert!(
        text.contains("message 1") && text.contains("message-id"),
        "{text}"
    );
    let long_key = Destination {
        routing_key: "k".repeat(300),
        ..destination(None)
    };
    assert!(Request::new(&broker(), &long_key, Vec::new()).is_err());
}
