//! Property tests (proptest) on the decoders that read broker bytes:
//! arbitrary and truncated input gives a frame, a wait for more bytes or a
//! typed error, never a panic; encoding then decoding gives back what was
//! encoded.

use crate::frame::{self, Frame};
use crate::methods::Method;
use amq_protocol_types::ShortString;
use proptest::prelude::*;

/// Methods this client sends or receives, with arbitrary arguments.
fn method() -> impl Strategy<Value = Method> {
    let name = "[ -~]{0,255}".prop_map(|s: String| ShortString::from(s));
    prop_oneof![
        (name.clone(), any::<u32>(), any::<u32>()).prop_map(|(queue, message_count, consumer_count)| {
            Method::QueueDeclareOk { queue, message_count, consumer_count }
        }),
        (name.clone(), name.clone(), any::<bool>(), any::<bool>()).prop_map(
            |(exchange, routing_key, mandatory, immediate)| Method::BasicPublish { exchange, routing_key, mandatory, immediate }
        ),
        (any::<u64>(), any::<bool>()).prop_map(|(delivery_tag, multiple)| Method::BasicAck { delivery_tag, multiple }),
        (any::<u64>(), any::<bool>(), any::<bool>())
            .prop_map(|(delivery_tag, multiple, requeue)| Method::BasicNack { delivery_tag, multiple, requeue }),
        any::<bool>().prop_map(|no_wait| Method::ConfirmSelect { no_wait }),
        name.prop_map(|virtual_host| Method::ConnectionOpen { virtual_host }),
        any::<u32>().prop_map(|message_count| Method::QueueDeleteOk { message_count }),
        Just(Method::ChannelOpenOk),
        Just(Method::ConfirmSelectOk),
        Just(Method::ConnectionCloseOk),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3_000, ..ProptestConfig::default() })]

    /// Any bytes, any frame-max: a frame (no longer than the input), a wait,
    /// or an error.
    #[test]
    fn arbitrary_bytes_decode_or_fail(bytes in prop::collection::vec(any::<u8>(), 0..300), frame_max in prop_oneof![Just(0u32), 8u32..4096]) {
        if let Ok(Some((_, used))) = frame::decode(&bytes, frame_max) {
            prop_assert!(used <= bytes.len());
        }
    }

    /// Frames that look real (a valid type and end octet) with arbitrary
    /// payloads, and every method payload decoder on arbitrary arguments.
    #[test]
    fn plausible_frames_decode_or_fail(kind in prop_oneof![Just(1u8), Just(2u8), Just(3u8), Just(8u8)], channel in any::<u16>(),
                                       payload in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut bytes = vec![kind];
        bytes.extend_from_slice(&channel.to_be_bytes());
        bytes.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&payload);
        bytes.push(0xCE);
        match frame::decode(&bytes, 0) {
            Ok(Some((Frame::Method { payload: p, .. }, used))) => {
                prop_assert_eq!(used, bytes.len());
                let _ = Method::decode(&p);
            }
            Ok(Some((_, used))) => prop_assert_eq!(used, bytes.len()),
            Ok(None) => prop_assert!(false, "a whole frame waited for more"),
            Err(_) => {}
        }
    }

    /// Encode → decode gives the method back, whole and from every prefix
    /// of its frame only a wait.
    #[test]
    fn methods_round_trip(method in method(), channel in any::<u16>()) {
        let payload = method.encode().unwrap();
        prop_assert_eq!(&Method::decode(&payload).unwrap(), &method);
        let mut bytes = Vec::new();
        frame::encode(&Frame::Method { channel, payload: payload.clone() }, &mut bytes).unwrap();
        let (decoded, used) = frame::decode(&bytes, 0).unwrap().unwrap();
        prop_assert_eq!(used, bytes.len());
        prop_assert_eq!(decoded, Frame::Method { channel, payload });
        for end in 0..bytes.len() {
            prop_assert_eq!(frame::decode(&bytes[..end], 0), Ok(None));
        }
        // A truncated method payload is an error, not a panic.
        for end in 0..method.encode().unwrap().len() {
            let _ = Method::decode(&method.encode().unwrap()[..end]);
        }
    }

    /// Bodies split at frame-max and joined again are the same bytes.
    #[test]
    fn bodies_split_and_join(body in prop::collection::vec(any::<u8>(), 0..2_000), frame_max in prop_oneof![Just(0u32), 9u32..600]) {
        let frames = frame::body_frames(7, &body, frame_max);
        let mut joined = Vec::new();
        for f in &frames {
            let mut bytes = Vec::new();
            frame::encode(f, &mut bytes).unwrap();
            if frame_max != 0 {
                prop_assert!(bytes.len() <= frame_max as usize);
            }
            match frame::decode(&bytes, frame_max).unwrap().unwrap().0 {
                Frame::Body { channel, data } => {
                    prop_assert_eq!(channel, 7);
                    joined.extend(data);
                }
                other => prop_assert!(false, "{:?}", other),
            }
        }
        prop_assert_eq!(joined, body);
    }
}
