//! A `publish` call's arguments checked against AMQP's limits and turned
//! into what goes on the wire, before any connection is made.

use crate::codec::short_string;
use crate::error::Error;
use crate::methods::{Method, SaslResponse};
use crate::properties::{Properties, PERSISTENT, TRANSIENT};
use crate::{Broker, Destination, Message, Outcome, PublishError, PublishReport};
use amq_protocol_types::ShortString;

/// A validated `publish` call, ready to send: every name fits an AMQP short
/// string. It holds the password (in the SASL response) and so has no
/// `Debug`.
pub struct Request {
    pub(crate) response: SaslResponse,
    pub(crate) vhost: ShortString,
    /// The durable queue to declare first, if any.
    pub(crate) queue: Option<ShortString>,
    /// basic.publish to the destination, the same for every message.
    pub(crate) publish: Method,
    pub(crate) contents: Vec<Content>,
}

/// One message's content header properties and body.
pub(crate) struct Content {
    pub(crate) properties: Properties,
    pub(crate) body: Vec<u8>,
}

impl Request {
    /// Checks the names and properties against AMQP's limits; the error is
    /// `protocol`, as nothing was sent.
    pub fn new(
        broker: &Broker,
        destination: &Destination,
        messages: Vec<Message>,
    ) -> Result<Request, PublishError> {
        let invalid = |e: Error| PublishError::Protocol(format!("cannot be sent: {e}"));
        let publish = Method::BasicPublish {
            exchange: short_string("exchange", &destination.exchange).map_err(invalid)?,
            routing_key: short_string("routing key", &destination.routing_key).map_err(invalid)?,
            mandatory: false,
            immediate: false,
        };
        let queue = destination.declare_durable_queue.as_deref();
        let contents = messages.into_iter().enumerate().map(|(i, m)| {
            content(m)
                .map_err(|e| PublishError::Protocol(format!("message {i} cannot be sent: {e}")))
        });
        Ok(Request {
            response: SaslResponse::plain(&broker.username, &broker.password),
            vhost: short_string("vhost", &broker.vhost).map_err(invalid)?,
            queue: queue
                .map(|q| short_string("queue name", q))
                .transpose()
                .map_err(invalid)?,
            publish,
            contents: contents.collect::<Result<_, _>>()?,
        })
    }

    /// How many messages the request publishes.
    pub fn len(&self) -> usize {
        self.contents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.contents.is_empty()
    }
}

/// A message's properties: its WIT fields, and delivery mode 2 or 1.
fn content(m: Message) -> Result<Content, Error> {
    let short = |field, s: Option<String>| s.map(|s| short_string(field, &s)).transpose();
    let properties = Properties {
        content_type: short("content-type", m.content_type)?,
        delivery_mode: Some(if m.persistent { PERSISTENT } else { TRANSIENT }),
        message_id: short("message-id", m.message_id)?,
        timestamp: m.timestamp,
        kind: short("type", m.kind)?,
        app_id: short("app-id", m.app_id)?,
        ..Properties::default()
    };
    Ok(Content {
        properties,
        body: m.body,
    })
}

/// The report of a call that failed before anything was published.
pub fn failed(count: usize, error: PublishError) -> PublishReport {
    PublishReport {
        outcomes: vec![Outcome::Unconfirmed; count],
        error: Some(error),
    }
}
