//! Errors of the AMQP codec and protocol layer: what went wrong with the
//! bytes, never what they contained, so no message can leak a credential.

use std::fmt;

/// A frame, method or property list that could not be encoded or decoded,
/// or a method that arrived out of turn.
///
/// Every field is a number, a static description or a method name: nothing
/// taken from a payload, so `Display` and `Debug` never show a password.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The peer answered with an AMQP protocol header: it wants another
    /// protocol version (the header's last four octets).
    ProtocolMismatch([u8; 4]),
    /// A frame type other than method (1), header (2), body (3) or
    /// heartbeat (8).
    BadFrameType(u8),
    /// The octet after a frame's payload was not 0xCE.
    BadFrameEnd(u8),
    /// A frame, header and end octet included, larger than the negotiated
    /// frame-max.
    FrameTooLarge { size: u64, max: u32 },
    /// A payload ended in the middle of the named item.
    Truncated(&'static str),
    /// The named item is not valid AMQP 0-9-1.
    Malformed(&'static str),
    /// A class and method id pair this client does not know.
    UnknownMethod { class_id: u16, method_id: u16 },
    /// The broker sent `got` where the client waited for `expected`.
    Unexpected {
        expected: &'static str,
        got: &'static str,
    },
    /// A basic.ack or basic.nack for a message that was never published.
    UnknownDeliveryTag(u64),
    /// A value too long for its AMQP type (short strings hold 255 bytes).
    TooLong { field: &'static str, len: usize },
    /// A method this client only ever receives.
    NotEncodable(&'static str),
    /// The serializer failed (it reports only sizes).
    Encode(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ProtocolMismatch(v) => write!(
                f,
                "the broker does not speak AMQP 0-9-1 (it offered protocol {}-{}-{}-{})",
                v[0], v[1], v[2], v[3]
            ),
            Error::BadFrameType(t) => write!(f, "bad frame type {t}"),
            Error::BadFrameEnd(b) => write!(f, "bad frame end octet 0x{b:02X} (expected 0xCE)"),
            Error::FrameTooLarge { size, max } => {
                write!(f, "frame of {size} bytes exceeds frame-max {max}")
            }
            Error::Truncated(what) => write!(f, "truncated {what}"),
            Error::Malformed(what) => write!(f, "malformed {what}"),
            Error::UnknownMethod {
                class_id,
                method_id,
            } => {
                write!(f, "unknown method {class_id}.{method_id}")
            }
            Error::Unexpected { expected, got } => {
                write!(f, "expected {expected} from the broker, got {got}")
            }
            Error::UnknownDeliveryTag(tag) => {
                write!(
                    f,
                    "the broker confirmed delivery tag {tag}, which was never published"
                )
            }
            Error::TooLong { field, len } => {
                write!(f, "{field} is {len} bytes, more than AMQP allows")
            }
            Error::NotEncodable(what) => write!(f, "{what} is only ever received"),
            Error::Encode(why) => write!(f, "encoding failed: {why}"),
        }
    }
}

impl std::error::Error for Error {}
