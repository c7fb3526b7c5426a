//! Frames over a blocking byte stream: buffered reads of whole frames, and
//! writes of whole frames, each checked against the negotiated frame-max.

use crate::error::Error;
use crate::frame::{self, Frame};
use crate::methods::Method;
use crate::PublishError;
use std::io::{self, ErrorKind, Read, Write};

/// The largest frame this client accepts or sends: 128 KiB, RabbitMQ's
/// default frame-max.
pub const CLIENT_FRAME_MAX: u32 = 128 * 1024;

/// Why a read or write failed.
#[derive(Debug)]
pub(crate) enum Fault {
    /// The broker closed the TCP connection.
    Eof,
    Io(io::Error),
    Codec(Error),
}

impl From<Error> for Fault {
    fn from(e: Error) -> Self {
        Fault::Codec(e)
    }
}

impl Fault {
    /// The WIT error, saying what the client was `doing` (e.g. "waiting for
    /// connection.tune"). A read or write timeout (`WouldBlock` or
    /// `TimedOut`) becomes `timeout`, anything else `protocol`.
    pub(crate) fn describe(self, doing: &str) -> PublishError {
        match self {
            Fault::Eof => {
                PublishError::Protocol(format!("the broker closed the connection while {doing}"))
            }
            Fault::Io(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                PublishError::Timeout(format!("no progress within the I/O timeout while {doing}"))
            }
            Fault::Io(e) => PublishError::Protocol(format!("connection error while {doing}: {e}")),
            Fault::Codec(e) => PublishError::Protocol(format!("{e} (while {doing})")),
        }
    }
}

/// Queued output is written once it reaches this size, or before any read.
const FLUSH_AT: usize = 64 * 1024;

/// A byte stream framed as AMQP. Frames sent back to back are written
/// together when the client next waits for the broker: separate small writes
/// would meet Nagle's algorithm and the broker's delayed ACK, a 40 ms stall
/// each time (and wasi:sockets offers no TCP_NODELAY).
#[derive(Debug)]
pub(crate) struct Transport<S> {
    stream: S,
    /// Bytes read but not yet decoded: at most one partial frame.
    inbox: Vec<u8>,
    /// Encoded frames not yet written.
    outbox: Vec<u8>,
    frame_max: u32,
}

impl<S: Read + Write> Transport<S> {
    /// Until connection.tune, frames up to [`CLIENT_FRAME_MAX`] are accepted.
    pub(crate) fn new(stream: S) -> Self {
        Transport {
            stream,
            inbox: Vec::new(),
            outbox: Vec::new(),
            frame_max: CLIENT_FRAME_MAX,
        }
    }

    pub(crate) fn frame_max(&self) -> u32 {
        self.frame_max
    }

    pub(crate) fn set_frame_max(&mut self, frame_max: u32) {
        self.frame_max = frame_max;
    }

    /// Writes and flushes raw bytes (the protocol header).
    pub(crate) fn write_all(&mut self, bytes: &[u8]) -> Result<(), Fault> {
        self.flush()?;
        self.stream
            .write_all(bytes)
            .and_then(|()| self.stream.flush())
            .map_err(Fault::Io)
    }

    /// Writes every queued frame.
    pub(crate) fn flush(&mut self) -> Result<(), Fault> {
        if self.outbox.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.outbox);
        self.stream
            .write_all(&out)
            .and_then(|()| self.stream.flush())
            .map_err(Fault::Io)
    }

    /// Encodes `frames` and queues them; they are written with whatever
    /// follows them, before the next read.
    pub(crate) fn send(&mut self, frames: &[Frame]) -> Result<(), Fault> {
        let mut out = std::mem::take(&mut self.outbox);
        for f in frames {
            let start = out.len();
            frame::encode(f, &mut out)?;
            let size = (out.len() - start) as u64;
            if size > u64::from(self.frame_max) {
                return Err(Error::FrameTooLarge {
                    size,
                    max: self.frame_max,
                }
                .into());
            }
        }
        self.outbox = out;
        if self.outbox.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }

    pub(crate) fn send_method(&mut self, channel: u16, method: &Method) -> Result<(), Fault> {
        self.send(&[Frame::Method {
            channel,
            payload: method.encode()?,
        }])
    }

    /// Reads until one whole frame is in, and returns it.
    pub(crate) fn recv(&mut self) -> Result<Frame, Fault> {
        self.flush()?;
        let mut chunk = [0u8; 8192];
        loop {
            if let Some((frame, used)) = frame::decode(&self.inbox, self.frame_max)? {
                self.inbox.drain(..used);
                return Ok(frame);
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(Fault::Eof),
                // `Read` promises n <= chunk.len(); `get` keeps a broken
                // reader from panicking here.
                Ok(n) => self.inbox.extend_from_slice(chunk.get(..n).unwrap_or(&[])),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(Fault::Io(e)),
            }
        }
    }
}
