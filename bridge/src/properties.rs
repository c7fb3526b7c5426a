//! The basic class's content-header property list and its 16-bit presence
//! flags, in AMQP 0-9-1 bit order (content-type is bit 15, app-id bit 3).

use crate::codec::{Reader, Writer};
use crate::error::Error;
use amq_protocol_types::{FieldTable, ShortString};

const CONTENT_TYPE: u16 = 1 << 15;
const CONTENT_ENCODING: u16 = 1 << 14;
const HEADERS: u16 = 1 << 13;
const DELIVERY_MODE: u16 = 1 << 12;
const PRIORITY: u16 = 1 << 11;
const CORRELATION_ID: u16 = 1 << 10;
const REPLY_TO: u16 = 1 << 9;
const EXPIRATION: u16 = 1 << 8;
const MESSAGE_ID: u16 = 1 << 7;
const TIMESTAMP: u16 = 1 << 6;
const TYPE: u16 = 1 << 5;
const USER_ID: u16 = 1 << 4;
const APP_ID: u16 = 1 << 3;
/// The deprecated cluster-id: read and dropped when a broker sends it.
const CLUSTER_ID: u16 = 1 << 2;
/// Bit 1 is reserved and bit 0 announces a second flags word; the basic
/// class has neither.
const UNSUPPORTED: u16 = 0b11;

/// Delivery mode 1: the broker may keep the message in memory only.
pub const TRANSIENT: u8 = 1;
/// Delivery mode 2: a durable queue keeps the message on disk.
pub const PERSISTENT: u8 = 2;

/// The basic class's message properties; `None` leaves a property out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Properties {
    pub content_type: Option<ShortString>,
    pub content_encoding: Option<ShortString>,
    pub headers: Option<FieldTable>,
    /// [`TRANSIENT`] or [`PERSISTENT`].
    pub delivery_mode: Option<u8>,
    pub priority: Option<u8>,
    pub correlation_id: Option<ShortString>,
    pub reply_to: Option<ShortString>,
    pub expiration: Option<ShortString>,
    pub message_id: Option<ShortString>,
    /// Seconds since the Unix epoch.
    pub timestamp: Option<u64>,
    /// The `type` property.
    pub kind: Option<ShortString>,
    pub user_id: Option<ShortString>,
    pub app_id: Option<ShortString>,
}

impl Properties {
    /// The presence flags: one bit per property that is set.
    pub fn flags(&self) -> u16 {
        let present = [
            (self.content_type.is_some(), CONTENT_TYPE),
            (self.content_encoding.is_some(), CONTENT_ENCODING),
            (self.headers.is_some(), HEADERS),
            (self.delivery_mode.is_some(), DELIVERY_MODE),
            (self.priority.is_some(), PRIORITY),
            (self.correlation_id.is_some(), CORRELATION_ID),
            (self.reply_to.is_some(), REPLY_TO),
            (self.expiration.is_some(), EXPIRATION),
            (self.message_id.is_some(), MESSAGE_ID),
            (self.timestamp.is_some(), TIMESTAMP),
            (self.kind.is_some(), TYPE),
            (self.user_id.is_some(), USER_ID),
            (self.app_id.is_some(), APP_ID),
        ];
        present
            .iter()
            .filter(|(set, _)| *set)
            .fold(0, |acc, (_, bit)| acc | bit)
    }

    /// Writes the flags and then each present property, highest bit first.
    pub(crate) fn encode(&self, w: &mut Writer) -> Result<(), Error> {
        w.short(self.flags())?;
        let strings_before_headers = [&self.content_type, &self.content_encoding];
        for s in strings_before_headers.into_iter().flatten() {
            w.short_str(s)?;
        }
        if let Some(t) = &self.headers {
            w.table(t)?;
        }
        for o in [self.delivery_mode, self.priority].into_iter().flatten() {
            w.octet(o)?;
        }
        let ids = [
            &self.correlation_id,
            &self.reply_to,
            &self.expiration,
            &self.message_id,
        ];
        for s in ids.into_iter().flatten() {
            w.short_str(s)?;
        }
        if let Some(t) = self.timestamp {
            w.longlong(t)?;
        }
        for s in [&self.kind, &self.user_id, &self.app_id]
            .into_iter()
            .flatten()
        {
            w.short_str(s)?;
        }
        Ok(())
    }

    /// Reads the flags and the properties they announce.
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Properties, Error> {
        let flags = r.short()?;
        if flags & UNSUPPORTED != 0 {
            return Err(Error::Malformed("content header property flags"));
        }
        let has = |bit: u16| flags & bit != 0;
        let short = |r: &mut Reader<'_>, bit| {
            if has(bit) {
                r.short_str().map(Some)
            } else {
                Ok(None)
            }
        };
        let content_type = short(r, CONTENT_TYPE)?;
        let content_encoding = short(r, CONTENT_ENCODING)?;
        let headers = if has(HEADERS) { Some(r.table()?) } else { None };
        let delivery_mode = if has(DELIVERY_MODE) {
            Some(r.octet()?)
        } else {
            None
        };
        let priority = if has(PRIORITY) {
            Some(r.octet()?)
        } else {
            None
        };
        let correlation_id = short(r, CORRELATION_ID)?;
        let reply_to = short(r, REPLY_TO)?;
        let expiration = short(r, EXPIRATION)?;
        let message_id = short(r, MESSAGE_ID)?;
        let timestamp = if has(TIMESTAMP) {
            Some(r.longlong()?)
        } else {
            None
        };
        let kind = short(r, TYPE)?;
        let user_id = short(r, USER_ID)?;
        let app_id = short(r, APP_ID)?;
        short(r, CLUSTER_ID)?;
        Ok(Properties {
            content_type,
            content_encoding,
            headers,
            delivery_mode,
            priority,
            correlation_id,
            reply_to,
            expiration,
            message_id,
            timestamp,
            kind,
            user_id,
            app_id,
        })
    }
}
