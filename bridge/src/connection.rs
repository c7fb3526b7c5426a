//! The publishing client over any blocking `Read + Write` byte stream: log
//! in, open a confirming channel, optionally declare the queue, publish the
//! batch, wait for every confirm, and close.

use crate::confirms::Confirms;
use crate::error::Error;
use crate::frame::{self, Frame, FRAME_MIN_SIZE, PROTOCOL_HEADER};
use crate::methods::{Close, Method, QueueDeclare, SaslResponse, Tune};
use crate::request::{Content, Request};
use crate::transport::{Fault, Transport, CLIENT_FRAME_MAX};
use crate::{CloseReason, Outcome, PublishError, PublishReport};
use amq_protocol_types::{AMQPValue, FieldTable, LongString, ShortString};
use std::io::{Read, Write};

/// The one channel this client opens.
const CHANNEL: u16 = 1;
/// The basic class, whose content headers carry the messages.
const BASIC: u16 = 60;
const ACCESS_REFUSED: u16 = 403;
const NOT_ALLOWED: u16 = 530;
const REPLY_SUCCESS: u16 = 200;

/// Publishes `request` over `stream`, a fresh connection to the broker, and
/// reports an outcome per message (`unconfirmed` where no answer came).
pub fn publish<S: Read + Write>(stream: S, request: &Request) -> PublishReport {
    let mut confirms = Confirms::new(request.len());
    let mut session = Session::new(stream);
    let result = session.run(request, &mut confirms);
    PublishReport {
        outcomes: confirms.into_outcomes(),
        error: result.err(),
    }
}

/// The tune-ok answer: one channel, frame-max at most 128 KiB (the broker's
/// 0 meaning no limit), no heartbeats.
pub fn negotiate(server: Tune) -> Result<Tune, Error> {
    let frame_max = match server.frame_max {
        0 => CLIENT_FRAME_MAX,
        max => max.min(CLIENT_FRAME_MAX),
    };
    if frame_max < FRAME_MIN_SIZE {
        return Err(Error::Malformed("connection.tune: frame-max below 4096"));
    }
    let channel_max = match server.channel_max {
        0 => 1,
        max => max.min(1),
    };
    Ok(Tune {
        channel_max,
        frame_max,
        heartbeat: 0,
    })
}

/// How far the handshake has got: a 403 before the connection is open, or
/// a 530 on connection.open, means the credentials or vhost were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Greeting,
    /// start-ok is sent: the broker may drop a refused login without a word.
    LoggingIn,
    OpeningVhost,
    Open,
}

/// One connection's state.
pub(crate) struct Session<S> {
    io: Transport<S>,
    stage: Stage,
}

impl<S: Read + Write> Session<S> {
    pub(crate) fn new(stream: S) -> Self {
        Session {
            io: Transport::new(stream),
            stage: Stage::Greeting,
        }
    }

    fn run(&mut self, request: &Request, confirms: &mut Confirms) -> Result<(), PublishError> {
        self.login(request)?;
        match self.publish_all(request, confirms) {
            Ok(()) => {
                self.close();
                Ok(())
            }
            Err(e @ PublishError::ChannelClosed(_)) => {
                self.close_connection();
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Protocol header, start/start-ok (PLAIN), tune/tune-ok, open/open-ok.
    pub(crate) fn login(&mut self, request: &Request) -> Result<(), PublishError> {
        self.io
            .write_all(&PROTOCOL_HEADER)
            .map_err(|f| f.describe("sending the protocol header"))?;
        let mechanisms = self.wait_for("connection.start", |m| match m {
            Method::ConnectionStart { mechanisms, .. } => Some(mechanisms),
            _ => None,
        })?;
        if !offers_plain(&mechanisms) {
            return Err(PublishError::Protocol(format!(
                "the broker does not offer SASL PLAIN (it offers \"{mechanisms}\")"
            )));
        }
        self.send(0, &start_ok(request.response.clone()))?;
        self.stage = Stage::LoggingIn;
        let tune = self.wait_for("connection.tune", |m| match m {
            Method::ConnectionTune(t) => Some(t),
            _ => None,
        })?;
        let tune_ok = negotiate(tune).map_err(|e| PublishError::Protocol(e.to_string()))?;
        self.send(0, &Method::ConnectionTuneOk(tune_ok))?;
        self.io.set_frame_max(tune_ok.frame_max);
        self.stage = Stage::OpeningVhost;
        self.send(
            0,
            &Method::ConnectionOpen {
                virtual_host: request.vhost.clone(),
            },
        )?;
        self.wait_for("connection.open-ok", |m| {
            matches!(m, Method::ConnectionOpenOk).then_some(())
        })?;
        self.stage = Stage::Open;
        Ok(())
    }

    /// Channel 1 in confirm mode: channel.open, confirm.select.
    pub(crate) fn open_channel(&mut self) -> Result<(), PublishError> {
        self.send(CHANNEL, &Method::ChannelOpen)?;
        self.wait_for("channel.open-ok", |m| {
            matches!(m, Method::ChannelOpenOk).then_some(())
        })?;
        self.send(CHANNEL, &Method::ConfirmSelect { no_wait: false })?;
        self.wait_for("confirm.select-ok", |m| {
            matches!(m, Method::ConfirmSelectOk).then_some(())
        })
    }

    fn publish_all(
        &mut self,
        request: &Request,
        confirms: &mut Confirms,
    ) -> Result<(), PublishError> {
        self.open_channel()?;
        if let Some(queue) = &request.queue {
            self.declare(queue)?;
        }
        for content in &request.contents {
            let frames = self.content_frames(&request.publish, content)?;
            if let Err(fault) = self.io.send(&frames) {
                return Err(self.explain_send_failure(fault));
            }
        }
        if let Err(fault) = self.io.flush() {
            return Err(self.explain_send_failure(fault));
        }
        self.await_confirms(confirms)
    }

    /// queue.declare: durable, not exclusive, not auto-delete, no arguments.
    fn declare(&mut self, queue: &ShortString) -> Result<(), PublishError> {
        let declare = QueueDeclare {
            queue: queue.clone(),
            passive: false,
            durable: true,
            exclusive: false,
            auto_delete: false,
            no_wait: false,
            arguments: FieldTable::default(),
        };
        self.send(CHANNEL, &Method::QueueDeclare(declare))?;
        self.wait_for("queue.declare-ok", |m| {
            matches!(m, Method::QueueDeclareOk { .. }).then_some(())
        })
    }

    /// basic.publish, the content header, and the body in frame-max pieces.
    fn content_frames(
        &self,
        publish: &Method,
        content: &Content,
    ) -> Result<Vec<Frame>, PublishError> {
        let payload = publish
            .encode()
            .map_err(|e| PublishError::Protocol(e.to_string()))?;
        let header = Frame::Header {
            channel: CHANNEL,
            class_id: BASIC,
            body_size: content.body.len() as u64,
            properties: Box::new(content.properties.clone()),
        };
        let mut frames = vec![
            Frame::Method {
                channel: CHANNEL,
                payload,
            },
            header,
        ];
        frames.extend(frame::body_frames(
            CHANNEL,
            &content.body,
            self.io.frame_max(),
        ));
        Ok(frames)
    }

    /// A write failed mid-batch: if the broker said why before closing (a
    /// connection.close or channel.close), report that instead.
    fn explain_send_failure(&mut self, fault: Fault) -> PublishError {
        let write_error = fault.describe("sending basic.publish");
        match self.recv_method("basic.ack") {
            Err(e @ (PublishError::ConnectionClosed(_) | PublishError::ChannelClosed(_))) => e,
            _ => write_error,
        }
    }

    /// Reads basic.ack and basic.nack until every message is answered.
    fn await_confirms(&mut self, confirms: &mut Confirms) -> Result<(), PublishError> {
        while confirms.pending() > 0 {
            let settled = match self.recv_method("basic.ack")?.1 {
                Method::BasicAck {
                    delivery_tag,
                    multiple,
                } => confirms.settle(delivery_tag, multiple, Outcome::Confirmed),
                Method::BasicNack {
                    delivery_tag,
                    multiple,
                    ..
                } => confirms.settle(delivery_tag, multiple, Outcome::Rejected),
                // An unroutable mandatory message; its ack follows.
                Method::BasicReturn { .. } => Ok(()),
                other => Err(Error::Unexpected {
                    expected: "basic.ack",
                    got: other.name(),
                }),
            };
            settled.map_err(|e| PublishError::Protocol(e.to_string()))?;
        }
        Ok(())
    }

    /// channel.close, then connection.close, each waiting for its close-ok.
    /// Best effort: every message already has its outcome.
    pub(crate) fn close(&mut self) {
        if self.send(CHANNEL, &Method::ChannelClose(goodbye())).is_ok() {
            let _ = self.wait_for("channel.close-ok", |m| {
                matches!(m, Method::ChannelCloseOk).then_some(())
            });
        }
        self.close_connection();
    }

    fn close_connection(&mut self) {
        if self.send(0, &Method::ConnectionClose(goodbye())).is_ok() {
            let _ = self.wait_for("connection.close-ok", |m| {
                matches!(m, Method::ConnectionCloseOk).then_some(())
            });
        }
    }

    /// Sends one method frame.
    pub(crate) fn send(&mut self, channel: u16, method: &Method) -> Result<(), PublishError> {
        self.io
            .send_method(channel, method)
            .map_err(|f| f.describe(&format!("sending {}", method.name())))
    }

    /// Waits for the method `pick` accepts; any other is a protocol error.
    pub(crate) fn wait_for<T>(
        &mut self,
        expected: &'static str,
        pick: impl FnOnce(Method) -> Option<T>,
    ) -> Result<T, PublishError> {
        let (_, method) = self.recv_method(expected)?;
        let got = method.name();
        pick(method)
            .ok_or_else(|| PublishError::Protocol(Error::Unexpected { expected, got }.to_string()))
    }

    /// The next method, skipping heartbeats and content frames. A close from
    /// the broker is answered with close-ok and becomes the error.
    fn recv_method(&mut self, waiting_for: &'static str) -> Result<(u16, Method), PublishError> {
        loop {
            let frame = self
                .io
                .recv()
                .map_err(|f| self.read_failure(f, waiting_for))?;
            let Frame::Method { channel, payload } = frame else {
                continue;
            };
            let method = Method::decode(&payload)
                .map_err(|e| Fault::Codec(e).describe(&format!("waiting for {waiting_for}")))?;
            return match method {
                Method::ConnectionClose(close) => Err(self.connection_closed(close)),
                Method::ChannelClose(close) => {
                    let _ = self.io.send_method(channel, &Method::ChannelCloseOk).and_then(|()| self.io.flush());
                    Err(PublishError::ChannelClosed(reason(close)))
                }
                other => Ok((channel, other)),
            };
        }
    }

    /// A broker that refuses a PLAIN login may just drop the connection.
    fn read_failure(&self, fault: Fault, waiting_for: &str) -> PublishError {
        match (&fault, self.stage) {
            (Fault::Eof, Stage::LoggingIn) => PublishError::AuthenticationRefused(
                "the broker closed the connection after the login: the credentials were refused"
                    .into(),
            ),
            _ => fault.describe(&format!("waiting for {waiting_for}")),
        }
    }

    fn connection_closed(&mut self, close: Close) -> PublishError {
        let _ = self.io.send_method(0, &Method::ConnectionCloseOk).and_then(|()| self.io.flush());
        let refused = match self.stage {
            Stage::Greeting | Stage::LoggingIn => close.reply_code == ACCESS_REFUSED,
            Stage::OpeningVhost => matches!(close.reply_code, ACCESS_REFUSED | NOT_ALLOWED),
            Stage::Open => false,
        };
        if refused {
            PublishError::AuthenticationRefused(format!(
                "{} {}",
                close.reply_code, close.reply_text
            ))
        } else {
            PublishError::ConnectionClosed(reason(close))
        }
    }
}

fn offers_plain(mechanisms: &LongString) -> bool {
    mechanisms
        .as_bytes()
        .split(|b| *b == b' ')
        .any(|m| m == b"PLAIN")
}

/// connection.start-ok: client properties, PLAIN, the response, en_US.
fn start_ok(response: SaslResponse) -> Method {
    let mut capabilities = FieldTable::default();
    for name in ["publisher_confirms", "authentication_failure_close"] {
        capabilities.insert(ShortString::from(name), AMQPValue::Boolean(true));
    }
    let mut properties = FieldTable::default();
    let text = |s: &str| AMQPValue::LongString(LongString::from(s));
    properties.insert("product".into(), text(env!("CARGO_PKG_NAME")));
    properties.insert("version".into(), text(env!("CARGO_PKG_VERSION")));
    properties.insert("capabilities".into(), AMQPValue::FieldTable(capabilities));
    Method::ConnectionStartOk {
        client_properties: properties,
        mechanism: "PLAIN".into(),
        response,
        locale: "en_US".into(),
    }
}

fn goodbye() -> Close {
    Close {
        reply_code: REPLY_SUCCESS,
        reply_text: "OK".into(),
        class_id: 0,
        method_id: 0,
    }
}

fn reason(close: Close) -> CloseReason {
    CloseReason {
        code: close.reply_code,
        text: close.reply_text.to_string(),
        class_id: close.class_id,
        method_id: close.method_id,
    }
}
