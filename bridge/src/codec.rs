//! A reader and a writer of AMQP primitive values over amq-protocol-types'
//! `parsing::parse_*` and `generation::gen_*` functions.

use crate::error::Error;
use amq_protocol_types::flags::AMQPFlags;
use amq_protocol_types::generation::{
    gen_field_table, gen_flags, gen_long_long_uint, gen_long_string, gen_long_uint,
    gen_short_short_uint, gen_short_string, gen_short_uint, SerializeFn,
};
use amq_protocol_types::parsing::{
    parse_field_table, parse_flags, parse_long_long_uint, parse_long_string, parse_long_uint,
    parse_short_short_uint, parse_short_string, parse_short_uint, parse_type, parse_value,
    ParserError, ParserResult,
};
use amq_protocol_types::{AMQPType, FieldTable, LongString, ShortString};

/// How deeply field tables and arrays from the network may nest.
/// amq-protocol-types parses nested values recursively, so this bounds its
/// stack use (a wasm32 stack is 1 MiB) against a hostile peer.
const MAX_NESTING: usize = 16;

/// Checks that `s` fits an AMQP short string (255 bytes) and wraps it.
pub(crate) fn short_string(field: &'static str, s: &str) -> Result<ShortString, Error> {
    ShortString::try_new(s).map_err(|_| Error::TooLong {
        field,
        len: s.len(),
    })
}

/// Appends AMQP values to a byte buffer.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Runs one amq-protocol-types generator on the buffer.
    fn put(&mut self, gen: impl SerializeFn<Vec<u8>>) -> Result<&mut Self, Error> {
        let buf = std::mem::take(&mut self.buf);
        let written = gen(buf.into()).map_err(|e| Error::Encode(format!("{e:?}")))?;
        self.buf = written.write;
        Ok(self)
    }

    pub(crate) fn octet(&mut self, v: u8) -> Result<&mut Self, Error> {
        self.put(gen_short_short_uint(v))
    }

    pub(crate) fn short(&mut self, v: u16) -> Result<&mut Self, Error> {
        self.put(gen_short_uint(v))
    }

    pub(crate) fn long(&mut self, v: u32) -> Result<&mut Self, Error> {
        self.put(gen_long_uint(v))
    }

    pub(crate) fn longlong(&mut self, v: u64) -> Result<&mut Self, Error> {
        self.put(gen_long_long_uint(v))
    }

    pub(crate) fn short_str(&mut self, s: &ShortString) -> Result<&mut Self, Error> {
        self.put(gen_short_string(s.as_str()))
    }

    pub(crate) fn long_str(&mut self, field: &'static str, s: &[u8]) -> Result<&mut Self, Error> {
        if u32::try_from(s.len()).is_err() {
            return Err(Error::TooLong {
                field,
                len: s.len(),
            });
        }
        self.put(gen_long_string(s))
    }

    pub(crate) fn table(&mut self, t: &FieldTable) -> Result<&mut Self, Error> {
        self.put(gen_field_table(t))
    }

    /// Packs consecutive bit arguments into octets, the first in the lowest bit.
    pub(crate) fn bits(&mut self, bits: &[bool]) -> Result<&mut Self, Error> {
        let mut flags = AMQPFlags::default();
        for (i, bit) in bits.iter().enumerate() {
            flags.add_flag(i.to_string(), *bit);
        }
        self.put(gen_flags(&flags))
    }

    /// Appends bytes that are not an AMQP value (a frame payload).
    pub(crate) fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self
    }
}

/// Reads AMQP values from a complete payload; `what` names the payload in
/// errors.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Reader { rest: bytes, what }
    }

    /// The same reader, naming its payload `what` in errors from now on.
    pub(crate) fn renamed(self, what: &'static str) -> Self {
        Reader { what, ..self }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Runs one amq-protocol-types parser; its streaming `Incomplete` means
    /// the payload ended early.
    fn take<T>(
        &mut self,
        parse: impl FnOnce(&'a [u8]) -> ParserResult<&'a [u8], T>,
    ) -> Result<T, Error> {
        match parse(self.rest) {
            Ok((rest, value)) => {
                self.rest = rest;
                Ok(value)
            }
            Err(ParserError::Incomplete(_)) => Err(Error::Truncated(self.what)),
            Err(_) => Err(Error::Malformed(self.what)),
        }
    }

    pub(crate) fn octet(&mut self) -> Result<u8, Error> {
        self.take(parse_short_short_uint)
    }

    pub(crate) fn short(&mut self) -> Result<u16, Error> {
        self.take(parse_short_uint)
    }

    pub(crate) fn long(&mut self) -> Result<u32, Error> {
        self.take(parse_long_uint)
    }

    pub(crate) fn longlong(&mut self) -> Result<u64, Error> {
        self.take(parse_long_long_uint)
    }

    pub(crate) fn short_str(&mut self) -> Result<ShortString, Error> {
        self.take(parse_short_string)
    }

    pub(crate) fn long_str(&mut self) -> Result<LongString, Error> {
        self.take(parse_long_string)
    }

    /// Reads a field table after checking how deeply it nests.
    pub(crate) fn table(&mut self) -> Result<FieldTable, Error> {
        let mut probe = self.clone();
        let len = probe.long()?;
        let body = probe.bytes(len as usize)?;
        check_entries(&mut Reader::new(body, self.what), true, 1)?;
        self.take(parse_field_table)
    }

    /// Reads `count` consecutive bit arguments packed into octets.
    pub(crate) fn bits(&mut self, count: usize) -> Result<Vec<bool>, Error> {
        const NAMES: [&str; 8] = ["0", "1", "2", "3", "4", "5", "6", "7"];
        let names = NAMES.get(..count).ok_or(Error::Malformed(self.what))?;
        let flags = self.take(|i| parse_flags(i, names))?;
        Ok(names
            .iter()
            .map(|n| flags.get_flag(n) == Some(true))
            .collect())
    }

    /// Takes `n` raw bytes (a frame payload).
    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if n > self.rest.len() {
            return Err(Error::Truncated(self.what));
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }
}

/// Walks the entries of a table (`keyed`) or array without building them,
/// failing if tables and arrays nest deeper than [`MAX_NESTING`].
fn check_entries(r: &mut Reader<'_>, keyed: bool, depth: usize) -> Result<(), Error> {
    if depth > MAX_NESTING {
        return Err(Error::Malformed("field table: nested too deeply"));
    }
    while !r.is_empty() {
        if keyed {
            r.short_str()?;
        }
        let kind = r.clone().take(parse_type)?;
        if matches!(kind, AMQPType::FieldTable | AMQPType::FieldArray) {
            r.take(parse_type)?;
            let len = r.long()?;
            let mut inner = Reader::new(r.bytes(len as usize)?, r.what);
            check_entries(&mut inner, kind == AMQPType::FieldTable, depth + 1)?;
        } else {
            // A scalar: the crate's parser does not recurse into it.
            r.take(parse_value)?;
        }
    }
    Ok(())
}
