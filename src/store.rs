//! All SQL of the service and the `spin:postgres@4.0.0` calls that run it.
//!
//! Spin 4.0.0–4.0.2 hang for good on a `query` that returns zero rows
//! (spinframework/spin#3671), so every statement run through `query` returns
//! at least one row. Spin also cannot read `timestamptz` columns, so times are
//! selected as text.

use crate::config::DatabaseUrl;
use crate::errors::Unavailable;

/// SQL statements, all with `$n` parameters.
pub mod sql {
    /// Health ping: one round trip, one row.
    pub const PING: &str = "SELECT 1";
    /// The database clock as ISO-8601 UTC text with microseconds.
    pub const NOW: &str =
        "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";
}

/// How a `spin:postgres` error is reported: a short code for the client and
/// the (redacted) detail for the log.
pub fn classify(url: &DatabaseUrl, what: &str, err: &spin_sdk::pg4::PgError) -> Unavailable {
    use spin_sdk::pg4::PgError;
    let (kind, detail) = match err {
        PgError::ConnectionFailed(msg) if msg.contains("not permitted") || msg.contains("not allowed") => {
            (Unavailable::DatabaseNotAllowed, msg.clone())
        }
        PgError::ConnectionFailed(msg) => (Unavailable::DatabaseUnreachable, msg.clone()),
        other => (Unavailable::DatabaseError, format!("{other:?}")),
    };
    eprintln!("auth: {what} failed ({}): {}", kind.code(), url.redact(&detail));
    kind
}

/// An open database connection.
pub struct Store {
    url: DatabaseUrl,
    conn: spin_sdk::pg4::Connection,
}

impl Store {
    pub fn open(url: DatabaseUrl) -> Result<Store, Unavailable> {
        match spin_sdk::pg4::Connection::open(url.expose()) {
            Ok(conn) => Ok(Store { url, conn }),
            Err(err) => Err(classify(&url, "opening the database connection", &err)),
        }
    }

    /// Runs a statement expected to return one text cell.
    fn query_text(&self, what: &str, statement: &str) -> Result<String, Unavailable> {
        use spin_sdk::pg4::DbValue;
        let rows = self
            .conn
            .query(statement, &[])
            .map_err(|err| classify(&self.url, what, &err))?;
        match rows.rows.first().and_then(|row| row.first()) {
            Some(DbValue::Str(text)) => Ok(text.clone()),
            Some(DbValue::Int32(n)) => Ok(n.to_string()),
            other => {
                eprintln!("auth: {what} returned an unexpected value: {other:?}");
                Err(Unavailable::DatabaseError)
            }
        }
    }

    /// One round trip proving the database answers.
    pub fn ping(&self) -> Result<(), Unavailable> {
        self.query_text("health ping", sql::PING).map(drop)
    }

    /// The database's current time, ISO-8601 UTC.
    pub fn now(&self) -> Result<String, Unavailable> {
        self.query_text("reading the database time", sql::NOW)
    }
}
