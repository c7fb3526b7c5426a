//! Decoding of each method's arguments, by class.

use super::{Close, Method, QueueDeclare, SaslResponse, Tune};
use crate::codec::Reader;
use crate::error::Error;

/// Reads the arguments of a method whose ids are known to this client.
pub(super) fn arguments(
    class_id: u16,
    method_id: u16,
    r: &mut Reader<'_>,
) -> Result<Method, Error> {
    match class_id {
        10 => decode_connection(method_id, r),
        20 => decode_channel(method_id, r),
        50 => decode_queue(method_id, r),
        60 => decode_basic(method_id, r),
        85 => decode_confirm(method_id, r),
        _ => Err(unknown(class_id, method_id)),
    }
}

fn unknown(class_id: u16, method_id: u16) -> Error {
    Error::UnknownMethod {
        class_id,
        method_id,
    }
}

fn decode_close(r: &mut Reader<'_>) -> Result<Close, Error> {
    Ok(Close {
        reply_code: r.short()?,
        reply_text: r.short_str()?,
        class_id: r.short()?,
        method_id: r.short()?,
    })
}

fn decode_tune(r: &mut Reader<'_>) -> Result<Tune, Error> {
    Ok(Tune {
        channel_max: r.short()?,
        frame_max: r.long()?,
        heartbeat: r.short()?,
    })
}

fn decode_connection(method_id: u16, r: &mut Reader<'_>) -> Result<Method, Error> {
    Ok(match method_id {
        10 => Method::ConnectionStart {
            version_major: r.octet()?,
            version_minor: r.octet()?,
            server_properties: r.table()?,
            mechanisms: r.long_str()?,
            locales: r.long_str()?,
        },
        11 => Method::ConnectionStartOk {
            client_properties: r.table()?,
            mechanism: r.short_str()?,
            response: SaslResponse(r.long_str()?.as_bytes().to_vec()),
            locale: r.short_str()?,
        },
        30 => Method::ConnectionTune(decode_tune(r)?),
        31 => Method::ConnectionTuneOk(decode_tune(r)?),
        40 => Method::ConnectionOpen {
            virtual_host: r.short_str()?,
        },
        41 => Method::ConnectionOpenOk,
        50 => Method::ConnectionClose(decode_close(r)?),
        51 => Method::ConnectionCloseOk,
        _ => return Err(unknown(10, method_id)),
    })
}

fn decode_channel(method_id: u16, r: &mut Reader<'_>) -> Result<Method, Error> {
    Ok(match method_id {
        10 => Method::ChannelOpen,
        11 => Method::ChannelOpenOk,
        40 => Method::ChannelClose(decode_close(r)?),
        41 => Method::ChannelCloseOk,
        _ => return Err(unknown(20, method_id)),
    })
}

fn decode_queue(method_id: u16, r: &mut Reader<'_>) -> Result<Method, Error> {
    Ok(match method_id {
        10 => {
            let (_ticket, queue, bits) = (r.short()?, r.short_str()?, r.bits(5)?);
            let [passive, durable, exclusive, auto_delete, no_wait] = bits[..] else {
                return Err(Error::Malformed("queue.declare"));
            };
            let arguments = r.table()?;
            Method::QueueDeclare(QueueDeclare {
                queue,
                passive,
                durable,
                exclusive,
                auto_delete,
                no_wait,
                arguments,
            })
        }
        11 => Method::QueueDeclareOk {
            queue: r.short_str()?,
            message_count: r.long()?,
            consumer_count: r.long()?,
        },
        40 => {
            let (_ticket, queue, bits) = (r.short()?, r.short_str()?, r.bits(3)?);
            let [if_unused, if_empty, no_wait] = bits[..] else {
                return Err(Error::Malformed("queue.delete"));
            };
            Method::QueueDelete {
                queue,
                if_unused,
                if_empty,
                no_wait,
            }
        }
        41 => Method::QueueDeleteOk {
            message_count: r.long()?,
        },
        _ => return Err(unknown(50, method_id)),
    })
}

fn decode_basic(method_id: u16, r: &mut Reader<'_>) -> Result<Method, Error> {
    Ok(match method_id {
        40 => {
            let (_ticket, exchange, routing_key, bits) =
                (r.short()?, r.short_str()?, r.short_str()?, r.bits(2)?);
            let [mandatory, immediate] = bits[..] else {
                return Err(Error::Malformed("basic.publish"));
            };
            Method::BasicPublish {
                exchange,
                routing_key,
                mandatory,
                immediate,
            }
        }
        50 => Method::BasicReturn {
            reply_code: r.short()?,
            reply_text: r.short_str()?,
            exchange: r.short_str()?,
            routing_key: r.short_str()?,
        },
        80 => Method::BasicAck {
            delivery_tag: r.longlong()?,
            multiple: first_bit(r)?,
        },
        120 => {
            let delivery_tag = r.longlong()?;
            let bits = r.bits(2)?;
            let [multiple, requeue] = bits[..] else {
                return Err(Error::Malformed("basic.nack"));
            };
            Method::BasicNack {
                delivery_tag,
                multiple,
                requeue,
            }
        }
        _ => return Err(unknown(60, method_id)),
    })
}

fn decode_confirm(method_id: u16, r: &mut Reader<'_>) -> Result<Method, Error> {
    Ok(match method_id {
        10 => Method::ConfirmSelect {
            no_wait: first_bit(r)?,
        },
        11 => Method::ConfirmSelectOk,
        _ => return Err(unknown(85, method_id)),
    })
}

fn first_bit(r: &mut Reader<'_>) -> Result<bool, Error> {
    Ok(r.bits(1)?.first().copied().unwrap_or(false))
}
