//! The AMQP 0-9-1 methods a confirming publisher sends and receives, with
//! their encoding to and decoding from a method frame's payload.

use crate::codec::{Reader, Writer};
use crate::error::Error;
use amq_protocol_types::{FieldTable, LongString, ShortString};
use std::fmt;

mod decode;

/// Every method this client knows: class id, method id and name.
const METHODS: &[(u16, u16, &str)] = &[
    (10, 10, "connection.start"),
    (10, 11, "connection.start-ok"),
    (10, 30, "connection.tune"),
    (10, 31, "connection.tune-ok"),
    (10, 40, "connection.open"),
    (10, 41, "connection.open-ok"),
    (10, 50, "connection.close"),
    (10, 51, "connection.close-ok"),
    (20, 10, "channel.open"),
    (20, 11, "channel.open-ok"),
    (20, 40, "channel.close"),
    (20, 41, "channel.close-ok"),
    (50, 10, "queue.declare"),
    (50, 11, "queue.declare-ok"),
    (50, 40, "queue.delete"),
    (50, 41, "queue.delete-ok"),
    (60, 40, "basic.publish"),
    (60, 50, "basic.return"),
    (60, 80, "basic.ack"),
    (60, 120, "basic.nack"),
    (85, 10, "confirm.select"),
    (85, 11, "confirm.select-ok"),
];

fn name_of(class_id: u16, method_id: u16) -> Option<&'static str> {
    METHODS
        .iter()
        .find(|(c, m, _)| (*c, *m) == (class_id, method_id))
        .map(|(_, _, name)| *name)
}

/// The SASL response of connection.start-ok. It holds the password, so
/// `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct SaslResponse(Vec<u8>);

impl SaslResponse {
    /// The PLAIN mechanism's response: `\0user\0password`.
    pub fn plain(username: &str, password: &str) -> Self {
        SaslResponse([b"\0", username.as_bytes(), b"\0", password.as_bytes()].concat())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SaslResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SaslResponse([REDACTED])")
    }
}

/// The arguments of connection.close and channel.close.
#[derive(Debug, Clone, PartialEq)]
pub struct Close {
    pub reply_code: u16,
    pub reply_text: ShortString,
    /// The method the peer was answering, or 0 and 0.
    pub class_id: u16,
    pub method_id: u16,
}

/// The arguments of connection.tune and tune-ok.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tune {
    pub channel_max: u16,
    /// The largest frame, header and end octet included; 0 means no limit.
    pub frame_max: u32,
    /// Seconds between heartbeats; 0 turns them off.
    pub heartbeat: u16,
}

/// The arguments of queue.declare.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueDeclare {
    pub queue: ShortString,
    pub passive: bool,
    pub durable: bool,
    pub exclusive: bool,
    pub auto_delete: bool,
    pub no_wait: bool,
    pub arguments: FieldTable,
}

/// One method with its arguments; the reserved (deprecated) arguments are
/// written as zero or empty and skipped when read.
#[derive(Debug, Clone, PartialEq)]
pub enum Method {
    ConnectionStart {
        version_major: u8,
        version_minor: u8,
        server_properties: FieldTable,
        /// Space-separated SASL mechanisms.
        mechanisms: LongString,
        locales: LongString,
    },
    ConnectionStartOk {
        client_properties: FieldTable,
        mechanism: ShortString,
        response: SaslResponse,
        locale: ShortString,
    },
    ConnectionTune(Tune),
    ConnectionTuneOk(Tune),
    ConnectionOpen {
        virtual_host: ShortString,
    },
    ConnectionOpenOk,
    ConnectionClose(Close),
    ConnectionCloseOk,
    ChannelOpen,
    ChannelOpenOk,
    ChannelClose(Close),
    ChannelCloseOk,
    QueueDeclare(QueueDeclare),
    QueueDeclareOk {
        queue: ShortString,
        message_count: u32,
        consumer_count: u32,
    },
    QueueDelete {
        queue: ShortString,
        if_unused: bool,
        if_empty: bool,
        no_wait: bool,
    },
    QueueDeleteOk {
        message_count: u32,
    },
    BasicPublish {
        exchange: ShortString,
        routing_key: ShortString,
        mandatory: bool,
        immediate: bool,
    },
    /// Received only (an unroutable mandatory message); it cannot be encoded.
    BasicReturn {
        reply_code: u16,
        reply_text: ShortString,
        exchange: ShortString,
        routing_key: ShortString,
    },
    BasicAck {
        delivery_tag: u64,
        multiple: bool,
    },
    BasicNack {
        delivery_tag: u64,
        multiple: bool,
        requeue: bool,
    },
    ConfirmSelect {
        no_wait: bool,
    },
    ConfirmSelectOk,
}

impl Method {
    /// The class and method ids.
    pub fn ids(&self) -> (u16, u16) {
        match self {
            Method::ConnectionStart { .. } => (10, 10),
            Method::ConnectionStartOk { .. } => (10, 11),
            Method::ConnectionTune(_) => (10, 30),
            Method::ConnectionTuneOk(_) => (10, 31),
            Method::ConnectionOpen { .. } => (10, 40),
            Method::ConnectionOpenOk => (10, 41),
            Method::ConnectionClose(_) => (10, 50),
            Method::ConnectionCloseOk => (10, 51),
            Method::ChannelOpen => (20, 10),
            Method::ChannelOpenOk => (20, 11),
            Method::ChannelClose(_) => (20, 40),
            Method::ChannelCloseOk => (20, 41),
            Method::QueueDeclare(_) => (50, 10),
            Method::QueueDeclareOk { .. } => (50, 11),
            Method::QueueDelete { .. } => (50, 40),
            Method::QueueDeleteOk { .. } => (50, 41),
            Method::BasicPublish { .. } => (60, 40),
            Method::BasicReturn { .. } => (60, 50),
            Method::BasicAck { .. } => (60, 80),
            Method::BasicNack { .. } => (60, 120),
            Method::ConfirmSelect { .. } => (85, 10),
            Method::ConfirmSelectOk => (85, 11),
        }
    }

    /// The spec's name, e.g. "basic.ack".
    pub fn name(&self) -> &'static str {
        let (class_id, method_id) = self.ids();
        name_of(class_id, method_id).unwrap_or("unknown method")
    }

    /// Encodes the method as a method frame's payload.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let (class_id, method_id) = self.ids();
        let mut w = Writer::new();
        w.short(class_id)?.short(method_id)?;
        self.encode_arguments(&mut w)?;
        Ok(w.into_bytes())
    }

    fn encode_arguments(&self, w: &mut Writer) -> Result<(), Error> {
        match self {
            Method::ConnectionStart {
                version_major,
                version_minor,
                server_properties,
                mechanisms,
                locales,
            } => {
                w.octet(*version_major)?
                    .octet(*version_minor)?
                    .table(server_properties)?;
                w.long_str("mechanisms", mechanisms.as_bytes())?
                    .long_str("locales", locales.as_bytes())?;
            }
            Method::ConnectionStartOk {
                client_properties,
                mechanism,
                response,
                locale,
            } => {
                w.table(client_properties)?.short_str(mechanism)?;
                w.long_str("SASL response", response.as_bytes())?
                    .short_str(locale)?;
            }
            Method::ConnectionTune(t) | Method::ConnectionTuneOk(t) => {
                w.short(t.channel_max)?
                    .long(t.frame_max)?
                    .short(t.heartbeat)?;
            }
            Method::ConnectionOpen { virtual_host } => {
                w.short_str(virtual_host)?
                    .short_str(&ShortString::default())?
                    .bits(&[false])?;
            }
            Method::ConnectionOpenOk | Method::ChannelOpen => {
                w.short_str(&ShortString::default())?;
            }
            Method::ChannelOpenOk => {
                w.long_str("channel id", &[])?;
            }
            Method::ConnectionClose(c) | Method::ChannelClose(c) => {
                w.short(c.reply_code)?
                    .short_str(&c.reply_text)?
                    .short(c.class_id)?
                    .short(c.method_id)?;
            }
            Method::ConnectionCloseOk | Method::ChannelCloseOk | Method::ConfirmSelectOk => {}
            Method::QueueDeclare(q) => {
                w.short(0)?.short_str(&q.queue)?;
                w.bits(&[q.passive, q.durable, q.exclusive, q.auto_delete, q.no_wait])?
                    .table(&q.arguments)?;
            }
            Method::QueueDeclareOk {
                queue,
                message_count,
                consumer_count,
            } => {
                w.short_str(queue)?
                    .long(*message_count)?
                    .long(*consumer_count)?;
            }
            Method::QueueDelete {
                queue,
                if_unused,
                if_empty,
                no_wait,
            } => {
                w.short(0)?
                    .short_str(queue)?
                    .bits(&[*if_unused, *if_empty, *no_wait])?;
            }
            Method::QueueDeleteOk { message_count } => {
                w.long(*message_count)?;
            }
            Method::BasicPublish {
                exchange,
                routing_key,
                mandatory,
                immediate,
            } => {
                w.short(0)?
                    .short_str(exchange)?
                    .short_str(routing_key)?
                    .bits(&[*mandatory, *immediate])?;
            }
            Method::BasicReturn { .. } => return Err(Error::NotEncodable("basic.return")),
            Method::BasicAck {
                delivery_tag,
                multiple,
            } => {
                w.longlong(*delivery_tag)?.bits(&[*multiple])?;
            }
            Method::BasicNack {
                delivery_tag,
                multiple,
                requeue,
            } => {
                w.longlong(*delivery_tag)?.bits(&[*multiple, *requeue])?;
            }
            Method::ConfirmSelect { no_wait } => {
                w.bits(&[*no_wait])?;
            }
        }
        Ok(())
    }

    /// Decodes a method frame's payload. Arguments past the last one this
    /// client knows are ignored.
    pub fn decode(payload: &[u8]) -> Result<Method, Error> {
        let mut r = Reader::new(payload, "method frame");
        let (class_id, method_id) = (r.short()?, r.short()?);
        let name = name_of(class_id, method_id).ok_or(Error::UnknownMethod {
            class_id,
            method_id,
        })?;
        decode::arguments(class_id, method_id, &mut r.renamed(name))
    }
}
