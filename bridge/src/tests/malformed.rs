//! Hostile or broken broker input: each case is a typed error (or a wait
//! for more bytes), never a panic.

use crate::codec::Reader;
use crate::error::Error;
use crate::frame::{self, Frame};
use crate::methods::Method;
use crate::properties::Properties;

fn method_frame(method: &Method) -> Vec<u8> {
    let mut out = Vec::new();
    frame::encode(
        &Frame::Method {
            channel: 0,
            payload: method.encode().unwrap(),
        },
        &mut out,
    )
    .unwrap();
    out
}

#[test]
fn bad_frame_end() {
    let bytes = [0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];
    assert_eq!(frame::decode(&bytes, 4096), Err(Error::BadFrameEnd(0x00)));
}

#[test]
fn bad_frame_type() {
    let bytes = [0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xCE];
    assert_eq!(frame::decode(&bytes, 4096), Err(Error::BadFrameType(5)));
}

#[test]
fn every_prefix_of_a_frame_waits_for_more() {
    let bytes = method_frame(&Method::ChannelOpenOk);
    for end in 0..bytes.len() {
        assert_eq!(
            frame::decode(&bytes[..end], 4096),
            Ok(None),
            "prefix of {end} bytes"
        );
    }
}

#[test]
fn oversized_frame_is_refused_from_its_header() {
    // A 200,000-byte body frame, refused before its payload arrives.
    let header = [0x03, 0x00, 0x01, 0x00, 0x03, 0x0D, 0x40];
    let err = frame::decode(&header, 131_072).unwrap_err();
    assert_eq!(
        err,
        Error::FrameTooLarge {
            size: 200_008,
            max: 131_072
        }
    );
    // A frame exactly at frame-max is fine.
    let mut exact = vec![0x03, 0x00, 0x01, 0x00, 0x00, 0x0F, 0xF8];
    exact.extend(std::iter::repeat_n(0, 4088));
    exact.push(0xCE);
    assert!(frame::decode(&exact, 4096).unwrap().is_some());
}

#[test]
fn protocol_header_from_the_broker_is_a_version_mismatch() {
    let err = frame::decode(b"AMQP\x00\x00\x09\x00", 4096).unwrap_err();
    assert_eq!(err, Error::ProtocolMismatch([0, 0, 9, 0]));
    assert!(err.to_string().contains("0-0-9-0"));
}

#[test]
fn truncated_method_arguments() {
    let payload = Method::BasicAck {
        delivery_tag: 1,
        multiple: false,
    }
    .encode()
    .unwrap();
    for end in 0..payload.len() {
        let err = Method::decode(&payload[..end]).unwrap_err();
        assert!(matches!(err, Error::Truncated(_)), "{end}: {err:?}");
    }
}

#[test]
fn unknown_methods() {
    let deliver = [0x00, 0x3C, 0x00, 0x3C];
    assert_eq!(
        Method::decode(&deliver),
        Err(Error::UnknownMethod {
            class_id: 60,
            method_id: 60
        })
    );
    let secure = [0x00, 0x0A, 0x00, 0x14, 0, 0, 0, 0];
    assert_eq!(
        Method::decode(&secure),
        Err(Error::UnknownMethod {
            class_id: 10,
            method_id: 20
        })
    );
    let nonsense = [0x00, 0x63, 0x00, 0x01];
    assert_eq!(
        Method::decode(&nonsense),
        Err(Error::UnknownMethod {
            class_id: 99,
            method_id: 1
        })
    );
}

#[test]
fn field_table_longer_than_its_payload() {
    // connection.start whose server-properties claim 1000 bytes.
    let payload = [
        0x00, 0x0A, 0x00, 0x0A, 0x00, 0x09, 0x00, 0x00, 0x03, 0xE8, 0x01,
    ];
    assert!(matches!(Method::decode(&payload), Err(Error::Truncated(_))));
}

#[test]
fn deeply_nested_tables_are_refused_without_recursing() {
    // 100,000 levels of {"a": {"a": ...}}: the recursive parser would
    // overflow the stack.
    // Level j is its length (7j), the key "a", the type 'F', then level j-1.
    let levels = 100_000u32;
    let mut table = Vec::with_capacity(7 * levels as usize + 4);
    for j in (1..=levels).rev() {
        table.extend_from_slice(&(7 * j).to_be_bytes());
        table.extend_from_slice(&[0x01, b'a', b'F']);
    }
    table.extend_from_slice(&[0, 0, 0, 0]);
    let mut payload = vec![0x00, 0x0A, 0x00, 0x0A, 0x00, 0x09];
    payload.extend_from_slice(&table);
    payload.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
    assert!(matches!(Method::decode(&payload), Err(Error::Malformed(_))));
}

#[test]
fn unsupported_property_flags() {
    let payload = [0x00, 0x01];
    let err = Properties::decode(&mut Reader::new(&payload, "content header")).unwrap_err();
    assert_eq!(err, Error::Malformed("content header property flags"));
}

/// A small deterministic generator (xorshift) for the noise tests.
fn noise(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut next = noise(0x9E37_79B9_7F4A_7C15);
    for _ in 0..20_000 {
        let len = (next() % 64) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let _ = Method::decode(&bytes);
        let _ = Properties::decode(&mut Reader::new(&bytes, "noise"));
        // Make some of them look like frames.
        if let Some(first) = bytes.first_mut() {
            *first = [1, 2, 3, 8][(next() % 4) as usize];
        }
        let _ = frame::decode(&bytes, 4096);
    }
}

#[test]
fn corrupted_valid_frames_never_panic() {
    let start = Method::ConnectionStart {
        version_major: 0,
        version_minor: 9,
        server_properties: Default::default(),
        mechanisms: "PLAIN".into(),
        locales: "en_US".into(),
    };
    let frames = [
        method_frame(&start),
        method_frame(&Method::BasicAck {
            delivery_tag: 9,
            multiple: true,
        }),
    ];
    let mut next = noise(42);
    for original in frames {
        for i in 0..original.len() {
            for _ in 0..16 {
                let mut bytes = original.clone();
                bytes[i] = next() as u8;
                if let Ok(Some((Frame::Method { payload, .. }, _))) = frame::decode(&bytes, 4096) {
                    let _ = Method::decode(&payload);
                }
            }
        }
    }
}
