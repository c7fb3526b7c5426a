//! Frames and methods against bytes written out by hand from the AMQP
//! 0-9-1 specification.

use crate::frame::{self, Frame, PROTOCOL_HEADER};
use crate::methods::{Method, SaslResponse, Tune};
use crate::properties::Properties;

fn encoded(frame: &Frame) -> Vec<u8> {
    let mut out = Vec::new();
    frame::encode(frame, &mut out).unwrap();
    out
}

fn method_frame(channel: u16, method: &Method) -> Vec<u8> {
    encoded(&Frame::Method {
        channel,
        payload: method.encode().unwrap(),
    })
}

fn decoded(bytes: &[u8]) -> Frame {
    let (frame, used) = frame::decode(bytes, 0).unwrap().unwrap();
    assert_eq!(used, bytes.len());
    frame
}

#[test]
fn protocol_header() {
    assert_eq!(
        PROTOCOL_HEADER,
        [0x41, 0x4D, 0x51, 0x50, 0x00, 0x00, 0x09, 0x01]
    );
}

#[test]
fn heartbeat_frame() {
    let bytes = [0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xCE];
    assert_eq!(encoded(&Frame::Heartbeat), bytes);
    assert_eq!(decoded(&bytes), Frame::Heartbeat);
}

#[test]
fn channel_open_on_channel_1() {
    // type 1, channel 1, size 5: class 20, method 10, reserved short string "".
    let bytes = [
        0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05, 0x00, 0x14, 0x00, 0x0A, 0x00, 0xCE,
    ];
    assert_eq!(method_frame(1, &Method::ChannelOpen), bytes);
}

#[test]
fn basic_publish_to_the_default_exchange() {
    let publish = Method::BasicPublish {
        exchange: "".into(),
        routing_key: "q".into(),
        mandatory: false,
        immediate: false,
    };
    // class 60, method 40, ticket 0, exchange "", routing key "q", bits 0.
    let bytes = [
        0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0A, //
        0x00, 0x3C, 0x00, 0x28, 0x00, 0x00, 0x00, 0x01, b'q', 0x00, //
        0xCE,
    ];
    assert_eq!(method_frame(1, &publish), bytes);
}

#[test]
fn content_header_with_message_id_type_and_delivery_mode() {
    let properties = Properties {
        delivery_mode: Some(2),
        message_id: Some("m1".into()),
        kind: Some("t".into()),
        ..Properties::default()
    };
    let header = Frame::Header {
        channel: 1,
        class_id: 60,
        body_size: 5,
        properties: Box::new(properties),
    };
    // Flags: delivery-mode bit 12, message-id bit 7, type bit 5 = 0x10A0;
    // then the values in bit order.
    let bytes = [
        0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x14, //
        0x00, 0x3C, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, //
        0x10, 0xA0, 0x02, 0x02, b'm', b'1', 0x01, b't', //
        0xCE,
    ];
    assert_eq!(encoded(&header), bytes);
    assert_eq!(decoded(&bytes), header);
}

#[test]
fn basic_ack_with_multiple() {
    let bytes = [
        0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0D, //
        0x00, 0x3C, 0x00, 0x50, 0, 0, 0, 0, 0, 0, 0, 0x05, 0x01, //
        0xCE,
    ];
    let Frame::Method {
        channel: 1,
        payload,
    } = decoded(&bytes)
    else {
        panic!("not a method frame")
    };
    assert_eq!(
        Method::decode(&payload).unwrap(),
        Method::BasicAck {
            delivery_tag: 5,
            multiple: true
        }
    );
}

#[test]
fn basic_nack_bits() {
    // multiple is bit 0, requeue bit 1.
    let payload = [0x00, 0x3C, 0x00, 0x78, 0, 0, 0, 0, 0, 0, 0, 0x07, 0x02];
    let nack = Method::BasicNack {
        delivery_tag: 7,
        multiple: false,
        requeue: true,
    };
    assert_eq!(Method::decode(&payload).unwrap(), nack);
    assert_eq!(nack.encode().unwrap(), payload);
}

#[test]
fn tune_ok() {
    let tune_ok = Method::ConnectionTuneOk(Tune {
        channel_max: 1,
        frame_max: 131_072,
        heartbeat: 0,
    });
    let payload = [
        0x00, 0x0A, 0x00, 0x1F, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
    ];
    assert_eq!(tune_ok.encode().unwrap(), payload);
}

#[test]
fn queue_declare_durable() {
    let declare = Method::QueueDeclare(crate::methods::QueueDeclare {
        queue: "jobs".into(),
        passive: false,
        durable: true,
        exclusive: false,
        auto_delete: false,
        no_wait: false,
        arguments: Default::default(),
    });
    // ticket 0, "jobs", bits: durable is bit 1, then an empty table.
    let payload = [
        0x00, 0x32, 0x00, 0x0A, 0x00, 0x00, 0x04, b'j', b'o', b'b', b's', 0x02, 0, 0, 0, 0,
    ];
    assert_eq!(declare.encode().unwrap(), payload);
}

#[test]
fn basic_return_decodes() {
    let mut payload = vec![0x00, 0x3C, 0x00, 0x32, 0x01, 0x38, 0x08];
    payload.extend_from_slice(b"NO_ROUTE");
    payload.extend_from_slice(&[0x01, b'x', 0x01, b'k']);
    let expected = Method::BasicReturn {
        reply_code: 312,
        reply_text: "NO_ROUTE".into(),
        exchange: "x".into(),
        routing_key: "k".into(),
    };
    assert_eq!(Method::decode(&payload).unwrap(), expected);
}

#[test]
fn plain_response_and_its_debug() {
    let response = SaslResponse::plain("guest", "s3cret");
    assert_eq!(response.as_bytes(), b"\0guest\0s3cret");
    assert!(!format!("{response:?}").contains("s3cret"));
    let start_ok = Method::ConnectionStartOk {
        client_properties: Default::default(),
        mechanism: "PLAIN".into(),
        response,
        locale: "en_US".into(),
    };
    assert!(!format!("{start_ok:?}").contains("s3cret"));
    // class 10, method 11, empty table, "PLAIN", long string, "en_US".
    let mut payload = vec![0x00, 0x0A, 0x00, 0x0B, 0, 0, 0, 0, 0x05];
    payload.extend_from_slice(b"PLAIN");
    payload.extend_from_slice(&[0, 0, 0, 13]);
    payload.extend_from_slice(b"\0guest\0s3cret");
    payload.push(0x05);
    payload.extend_from_slice(b"en_US");
    assert_eq!(start_ok.encode().unwrap(), payload);
}
