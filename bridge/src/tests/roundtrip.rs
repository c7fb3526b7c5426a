//! Encode-then-decode round trips for every method, the property list and
//! frames, and the splitting of bodies at frame-max.

use crate::error::Error;
use crate::frame::{self, Frame, FRAME_OVERHEAD};
use crate::methods::{Close, Method, QueueDeclare, SaslResponse, Tune};
use crate::properties::Properties;
use amq_protocol_types::{AMQPValue, FieldTable, LongString, ShortString};

fn table() -> FieldTable {
    let mut inner = FieldTable::default();
    inner.insert("publisher_confirms".into(), AMQPValue::Boolean(true));
    let mut t = FieldTable::default();
    t.insert(
        "product".into(),
        AMQPValue::LongString(LongString::from("RabbitMQ")),
    );
    t.insert("capabilities".into(), AMQPValue::FieldTable(inner));
    t.insert("x-max-length".into(), AMQPValue::LongInt(10));
    t
}

fn close() -> Close {
    Close {
        reply_code: 404,
        reply_text: "NOT_FOUND - no exchange".into(),
        class_id: 60,
        method_id: 40,
    }
}

fn every_method() -> Vec<Method> {
    let tune = Tune {
        channel_max: 2047,
        frame_max: 131_072,
        heartbeat: 60,
    };
    let name = |s: &str| ShortString::from(s);
    vec![
        Method::ConnectionStart {
            version_major: 0,
            version_minor: 9,
            server_properties: table(),
            mechanisms: "AMQPLAIN PLAIN".into(),
            locales: "en_US".into(),
        },
        Method::ConnectionStartOk {
            client_properties: table(),
            mechanism: name("PLAIN"),
            response: SaslResponse::plain("u", "p"),
            locale: name("en_US"),
        },
        Method::ConnectionTune(tune),
        Method::ConnectionTuneOk(tune),
        Method::ConnectionOpen {
            virtual_host: name("/"),
        },
        Method::ConnectionOpenOk,
        Method::ConnectionClose(close()),
        Method::ConnectionCloseOk,
        Method::ChannelOpen,
        Method::ChannelOpenOk,
        Method::ChannelClose(close()),
        Method::ChannelCloseOk,
        Method::QueueDeclare(QueueDeclare {
            queue: name("jobs"),
            passive: true,
            durable: true,
            exclusive: false,
            auto_delete: true,
            no_wait: false,
            arguments: table(),
        }),
        Method::QueueDeclareOk {
            queue: name("jobs"),
            message_count: 7,
            consumer_count: 1,
        },
        Method::QueueDelete {
            queue: name("jobs"),
            if_unused: true,
            if_empty: false,
            no_wait: true,
        },
        Method::QueueDeleteOk { message_count: 3 },
        Method::BasicPublish {
            exchange: name("ex"),
            routing_key: name("rk"),
            mandatory: true,
            immediate: false,
        },
        Method::BasicAck {
            delivery_tag: u64::MAX,
            multiple: true,
        },
        Method::BasicNack {
            delivery_tag: 3,
            multiple: true,
            requeue: true,
        },
        Method::ConfirmSelect { no_wait: true },
        Method::ConfirmSelectOk,
    ]
}

#[test]
fn every_method_round_trips() {
    for method in every_method() {
        let payload = method.encode().unwrap();
        assert_eq!(
            Method::decode(&payload).unwrap(),
            method,
            "{}",
            method.name()
        );
    }
}

#[test]
fn basic_return_is_decode_only() {
    let ret = Method::BasicReturn {
        reply_code: 312,
        reply_text: "NO_ROUTE".into(),
        exchange: "".into(),
        routing_key: "q".into(),
    };
    assert_eq!(ret.encode(), Err(Error::NotEncodable("basic.return")));
}

#[test]
fn every_property_round_trips() {
    let properties = Properties {
        content_type: Some("application/json".into()),
        content_encoding: Some("gzip".into()),
        headers: Some(table()),
        delivery_mode: Some(2),
        priority: Some(9),
        correlation_id: Some("c".into()),
        reply_to: Some("r".into()),
        expiration: Some("60000".into()),
        message_id: Some("m".into()),
        timestamp: Some(1_700_000_000),
        kind: Some("user.registered".into()),
        user_id: Some("guest".into()),
        app_id: Some("auth-service".into()),
    };
    assert_eq!(properties.flags(), 0xFFF8);
    for p in [properties, Properties::default()] {
        let header = Frame::Header {
            channel: 1,
            class_id: 60,
            body_size: 42,
            properties: Box::new(p),
        };
        let mut bytes = Vec::new();
        frame::encode(&header, &mut bytes).unwrap();
        assert_eq!(
            frame::decode(&bytes, 4096).unwrap(),
            Some((header, bytes.len()))
        );
    }
}

#[test]
fn frames_round_trip_back_to_back() {
    let frames = vec![
        Frame::Method {
            channel: 0,
            payload: Method::ConnectionCloseOk.encode().unwrap(),
        },
        Frame::Body {
            channel: 1,
            data: b"hello".to_vec(),
        },
        Frame::Heartbeat,
        Frame::Body {
            channel: 1,
            data: Vec::new(),
        },
    ];
    let mut bytes = Vec::new();
    for f in &frames {
        frame::encode(f, &mut bytes).unwrap();
    }
    let mut rest = &bytes[..];
    for expected in frames {
        let (frame, used) = frame::decode(rest, 4096).unwrap().unwrap();
        assert_eq!(frame, expected);
        rest = &rest[used..];
    }
    assert!(rest.is_empty());
}

#[test]
fn bodies_split_at_frame_max() {
    let body: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
    let frames = frame::body_frames(1, &body, 4096);
    let sizes: Vec<usize> = frames.iter().map(body_len).collect();
    assert_eq!(sizes, [4088, 4088, 1824]);
    let joined: Vec<u8> = frames.iter().flat_map(|f| body_of(f).to_vec()).collect();
    assert_eq!(joined, body);
    for f in &frames {
        let mut bytes = Vec::new();
        frame::encode(f, &mut bytes).unwrap();
        assert!(bytes.len() <= 4096);
    }
    let exact = frame::body_frames(1, &body[..2 * (4096 - FRAME_OVERHEAD)], 4096);
    assert_eq!(exact.iter().map(body_len).collect::<Vec<_>>(), [4088, 4088]);
    assert!(frame::body_frames(1, &[], 4096).is_empty());
    assert_eq!(frame::body_frames(1, &body, 0).len(), 1);
}

fn body_of(frame: &Frame) -> &[u8] {
    match frame {
        Frame::Body { data, .. } => data,
        other => panic!("not a body frame: {other:?}"),
    }
}

fn body_len(frame: &Frame) -> usize {
    body_of(frame).len()
}
