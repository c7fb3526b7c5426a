//! Conversions between `spin:postgres@4.0.0` values and tokio-postgres, with
//! the same type mapping as Spin's host (including its failures).

use crate::bindings::spin::postgres4_0_0::postgres::{DbDataType, DbValue, ParameterValue};
use anyhow::{anyhow, Result};
use bytes::BytesMut;
use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};
use tokio_postgres::Row;

pub type SqlParam = Box<dyn ToSql + Send + Sync>;

/// SQL NULL for a parameter of any type.
#[derive(Debug)]
struct Null;

impl ToSql for Null {
    fn to_sql(&self, _: &Type, _: &mut BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        Ok(IsNull::Yes)
    }
    fn accepts(_: &Type) -> bool {
        true
    }
    to_sql_checked!();
}

/// A value of a type Spin does not map, kept as its raw wire bytes.
struct Raw(Vec<u8>);

impl<'a> FromSql<'a> for Raw {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(raw.to_vec()))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

/// Turns a guest parameter into something tokio-postgres can bind.
pub fn to_sql(value: ParameterValue) -> Result<SqlParam> {
    Ok(match value {
        ParameterValue::Boolean(v) => Box::new(v),
        ParameterValue::Int8(v) => Box::new(v),
        ParameterValue::Int16(v) => Box::new(v),
        ParameterValue::Int32(v) => Box::new(v),
        ParameterValue::Int64(v) => Box::new(v),
        ParameterValue::Floating32(v) => Box::new(v),
        ParameterValue::Floating64(v) => Box::new(v),
        ParameterValue::Str(v) => Box::new(v),
        ParameterValue::Binary(v) => Box::new(v),
        ParameterValue::Date((y, m, d)) => Box::new(date(y, m, d)?),
        ParameterValue::Time((h, m, s, ns)) => Box::new(time(h, m, s, ns)?),
        ParameterValue::Datetime((y, mo, d, h, mi, s, ns)) => {
            Box::new(NaiveDateTime::new(date(y, mo, d)?, time(h, mi, s, ns)?))
        }
        ParameterValue::Timestamp(secs) => Box::new(
            chrono::DateTime::<chrono::Utc>::from_timestamp(secs, 0)
                .ok_or_else(|| anyhow!("invalid epoch timestamp {secs}"))?,
        ),
        ParameterValue::Uuid(v) => Box::new(uuid::Uuid::parse_str(&v).map_err(|_| anyhow!("invalid UUID {v}"))?),
        ParameterValue::Jsonb(v) => Box::new(
            serde_json::from_slice::<serde_json::Value>(&v)
                .map_err(|_| anyhow!("invalid JSON {}", String::from_utf8_lossy(&v)))?,
        ),
        ParameterValue::Decimal(v) => Box::new(decimal(&v)?),
        ParameterValue::ArrayInt32(v) => Box::new(v),
        ParameterValue::ArrayInt64(v) => Box::new(v),
        ParameterValue::ArrayStr(v) => Box::new(v),
        ParameterValue::ArrayDecimal(v) => Box::new(
            v.iter().map(|d| d.as_deref().map(decimal).transpose()).collect::<Result<Vec<_>>>()?,
        ),
        ParameterValue::RangeInt32(_) | ParameterValue::RangeInt64(_) | ParameterValue::RangeDecimal(_) => {
            return Err(anyhow!("range parameters are not supported by the test host"))
        }
        ParameterValue::Interval(_) => return Err(anyhow!("interval parameters are not supported by the test host")),
        ParameterValue::DbNull => Box::new(Null),
    })
}

fn date(y: i32, m: u8, d: u8) -> Result<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m.into(), d.into()).ok_or_else(|| anyhow!("invalid date y={y}, m={m}, d={d}"))
}

fn time(h: u8, m: u8, s: u8, ns: u32) -> Result<NaiveTime> {
    NaiveTime::from_hms_nano_opt(h.into(), m.into(), s.into(), ns).ok_or_else(|| anyhow!("invalid time {h}:{m}:{s}:{ns}"))
}

fn decimal(v: &str) -> Result<rust_decimal::Decimal> {
    rust_decimal::Decimal::from_str_exact(v).map_err(|_| anyhow!("invalid decimal {v}"))
}

/// The WIT data type Spin reports for a column type.
pub fn data_type(ty: &Type) -> DbDataType {
    match *ty {
        Type::BOOL => DbDataType::Boolean,
        Type::BYTEA => DbDataType::Binary,
        Type::FLOAT4 => DbDataType::Floating32,
        Type::FLOAT8 => DbDataType::Floating64,
        Type::INT2 => DbDataType::Int16,
        Type::INT4 => DbDataType::Int32,
        Type::INT8 => DbDataType::Int64,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR => DbDataType::Str,
        Type::TIMESTAMP | Type::TIMESTAMPTZ => DbDataType::Datetime,
        Type::DATE => DbDataType::Date,
        Type::TIME => DbDataType::Time,
        Type::UUID => DbDataType::Uuid,
        Type::JSONB => DbDataType::Jsonb,
        Type::NUMERIC => DbDataType::Decimal,
        Type::INT4_ARRAY => DbDataType::ArrayInt32,
        Type::INT8_ARRAY => DbDataType::ArrayInt64,
        Type::NUMERIC_ARRAY => DbDataType::ArrayDecimal,
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::BPCHAR_ARRAY => DbDataType::ArrayStr,
        ref other => DbDataType::Other(other.name().to_owned()),
    }
}

/// Reads column `i` of `row` as Spin does. A `timestamptz` column is read as
/// `NaiveDateTime`, which fails exactly as it does in Spin 4.0.2.
pub fn value(row: &Row, i: usize) -> Result<DbValue, tokio_postgres::Error> {
    fn get<'a, T: FromSql<'a>>(row: &'a Row, i: usize, wrap: impl FnOnce(T) -> DbValue) -> Result<DbValue, tokio_postgres::Error> {
        Ok(row.try_get::<_, Option<T>>(i)?.map_or(DbValue::DbNull, wrap))
    }
    match *row.columns()[i].type_() {
        Type::BOOL => get(row, i, DbValue::Boolean),
        Type::BYTEA => get(row, i, DbValue::Binary),
        Type::FLOAT4 => get(row, i, DbValue::Floating32),
        Type::FLOAT8 => get(row, i, DbValue::Floating64),
        Type::INT2 => get(row, i, DbValue::Int16),
        Type::INT4 => get(row, i, DbValue::Int32),
        Type::INT8 => get(row, i, DbValue::Int64),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR => get(row, i, DbValue::Str),
        Type::TIMESTAMP | Type::TIMESTAMPTZ => get(row, i, |v: NaiveDateTime| {
            DbValue::Datetime((
                v.year(),
                v.month() as u8,
                v.day() as u8,
                v.hour() as u8,
                v.minute() as u8,
                v.second() as u8,
                v.nanosecond(),
            ))
        }),
        Type::DATE => get(row, i, |v: NaiveDate| DbValue::Date((v.year(), v.month() as u8, v.day() as u8))),
        Type::TIME => get(row, i, |v: NaiveTime| {
            DbValue::Time((v.hour() as u8, v.minute() as u8, v.second() as u8, v.nanosecond()))
        }),
        Type::UUID => get(row, i, |v: uuid::Uuid| DbValue::Uuid(v.hyphenated().to_string())),
        Type::JSONB => get(row, i, |v: serde_json::Value| DbValue::Jsonb(v.to_string().into_bytes())),
        Type::NUMERIC => get(row, i, |v: rust_decimal::Decimal| DbValue::Decimal(v.to_string())),
        Type::INT4_ARRAY => get(row, i, DbValue::ArrayInt32),
        Type::INT8_ARRAY => get(row, i, DbValue::ArrayInt64),
        Type::NUMERIC_ARRAY => get(row, i, |v: Vec<Option<rust_decimal::Decimal>>| {
            DbValue::ArrayDecimal(v.into_iter().map(|d| d.map(|d| d.to_string())).collect())
        }),
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::BPCHAR_ARRAY => get(row, i, DbValue::ArrayStr),
        _ => get(row, i, |v: Raw| DbValue::Unsupported(v.0)),
    }
}
