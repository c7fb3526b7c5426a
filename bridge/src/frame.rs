//! AMQP 0-9-1 frames: the protocol header, and the encoding and decoding
//! of method, content-header, content-body and heartbeat frames.

use crate::codec::{Reader, Writer};
use crate::error::Error;
use crate::properties::Properties;
use std::borrow::Cow;

/// What a client sends first: "AMQP", then 0, 0-9-1.
pub const PROTOCOL_HEADER: [u8; 8] = *b"AMQP\x00\x00\x09\x01";
/// The octet that closes every frame.
pub const FRAME_END: u8 = 0xCE;
/// What a frame adds to its payload: type, channel and size (7 octets) and
/// the end octet.
pub const FRAME_OVERHEAD: usize = 8;
/// The frame-max every peer must accept, before and after tuning.
pub const FRAME_MIN_SIZE: u32 = 4096;

const HEADER_LEN: usize = 7;
const TYPE_METHOD: u8 = 1;
const TYPE_HEADER: u8 = 2;
const TYPE_BODY: u8 = 3;
const TYPE_HEARTBEAT: u8 = 8;

/// One frame. A method's arguments stay encoded here; see
/// [`crate::methods::Method`].
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Method {
        channel: u16,
        payload: Vec<u8>,
    },
    Header {
        channel: u16,
        class_id: u16,
        body_size: u64,
        /// Boxed: the property list is much larger than the other variants.
        properties: Box<Properties>,
    },
    Body {
        channel: u16,
        data: Vec<u8>,
    },
    Heartbeat,
}

impl Frame {
    pub fn channel(&self) -> u16 {
        match self {
            Frame::Method { channel, .. }
            | Frame::Header { channel, .. }
            | Frame::Body { channel, .. } => *channel,
            Frame::Heartbeat => 0,
        }
    }
}

/// Appends `frame`, with its header and end octet, to `out`.
pub fn encode(frame: &Frame, out: &mut Vec<u8>) -> Result<(), Error> {
    let (kind, payload) = match frame {
        Frame::Method { payload, .. } => (TYPE_METHOD, Cow::Borrowed(payload.as_slice())),
        Frame::Header {
            class_id,
            body_size,
            properties,
            ..
        } => (
            TYPE_HEADER,
            Cow::Owned(encode_header(*class_id, *body_size, properties)?),
        ),
        Frame::Body { data, .. } => (TYPE_BODY, Cow::Borrowed(data.as_slice())),
        Frame::Heartbeat => (TYPE_HEARTBEAT, Cow::Borrowed(&[][..])),
    };
    let size = u32::try_from(payload.len()).map_err(|_| Error::TooLong {
        field: "frame payload",
        len: payload.len(),
    })?;
    let mut w = Writer::new();
    w.octet(kind)?.short(frame.channel())?.long(size)?;
    w.raw(&payload).octet(FRAME_END)?;
    out.extend_from_slice(&w.into_bytes());
    Ok(())
}

/// A content header's payload: class, weight (always 0), body size and the
/// property list.
fn encode_header(class_id: u16, body_size: u64, properties: &Properties) -> Result<Vec<u8>, Error> {
    let mut w = Writer::new();
    w.short(class_id)?.short(0)?.longlong(body_size)?;
    properties.encode(&mut w)?;
    Ok(w.into_bytes())
}

/// Decodes the first frame in `buf`: `Ok(None)` while more bytes are
/// needed, else the frame and how many bytes it took.
///
/// `frame_max` bounds the whole frame (header and end octet included); 0
/// means no limit, as in connection.tune. The size is checked as soon as the
/// 7-octet header is in, so a caller never buffers more than `frame_max`.
pub fn decode(buf: &[u8], frame_max: u32) -> Result<Option<(Frame, usize)>, Error> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    if buf.starts_with(b"AMQP") {
        return mismatch(buf);
    }
    let mut r = Reader::new(buf, "frame header");
    let (kind, channel, size) = (r.octet()?, r.short()?, r.long()?);
    if !matches!(kind, TYPE_METHOD | TYPE_HEADER | TYPE_BODY | TYPE_HEARTBEAT) {
        return Err(Error::BadFrameType(kind));
    }
    let total = u64::from(size) + FRAME_OVERHEAD as u64;
    if frame_max != 0 && total > u64::from(frame_max) {
        return Err(Error::FrameTooLarge {
            size: total,
            max: frame_max,
        });
    }
    let Ok(total) = usize::try_from(total) else {
        return Err(Error::FrameTooLarge {
            size: total,
            max: frame_max,
        });
    };
    // The payload, then the end octet; `None` until all of it is in.
    let Some((&end, payload)) = buf.get(HEADER_LEN..total).and_then(<[u8]>::split_last) else {
        return Ok(None);
    };
    if end != FRAME_END {
        return Err(Error::BadFrameEnd(end));
    }
    Ok(Some((payload_frame(kind, channel, payload)?, total)))
}

/// The peer sent a protocol header back: it wants another version.
fn mismatch(buf: &[u8]) -> Result<Option<(Frame, usize)>, Error> {
    match buf.get(4..8) {
        Some(&[a, b, c, d]) => Err(Error::ProtocolMismatch([a, b, c, d])),
        _ => Ok(None),
    }
}

fn payload_frame(kind: u8, channel: u16, payload: &[u8]) -> Result<Frame, Error> {
    Ok(match kind {
        TYPE_METHOD => Frame::Method {
            channel,
            payload: payload.to_vec(),
        },
        TYPE_HEADER => {
            let mut r = Reader::new(payload, "content header");
            let class_id = r.short()?;
            let _weight = r.short()?;
            let body_size = r.longlong()?;
            let properties = Box::new(Properties::decode(&mut r)?);
            Frame::Header {
                channel,
                class_id,
                body_size,
                properties,
            }
        }
        TYPE_BODY => Frame::Body {
            channel,
            data: payload.to_vec(),
        },
        _ => Frame::Heartbeat,
    })
}

/// Splits a message body into body frames whose payloads are at most
/// `frame_max - 8` bytes (0: no limit); an empty body needs no body frame.
pub fn body_frames(channel: u16, body: &[u8], frame_max: u32) -> Vec<Frame> {
    let chunk = match frame_max {
        0 => body.len(),
        max => (max as usize).saturating_sub(FRAME_OVERHEAD),
    };
    let chunk = chunk.max(1);
    body.chunks(chunk)
        .map(|data| Frame::Body {
            channel,
            data: data.to_vec(),
        })
        .collect()
}
