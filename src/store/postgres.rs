//! All SQL of the service and the `spin:postgres@4.0.0` calls that run it.
//!
//! Spin 4.0.0–4.0.2 hang for good on a `query` that returns zero rows
//! (spinframework/spin#3671), so every statement run through `query` returns
//! at least one row: lookups select from a one-row subquery `LEFT JOIN` the
//! table and read "not found" from the nulls. Spin also cannot read
//! `timestamptz` columns, so times are selected as text. Writes that belong
//! together run as one statement (data-modifying CTEs), which PostgreSQL
//! applies atomically, so each endpoint costs as few round trips as possible.

use crate::config::DatabaseUrl;
use crate::errors::Unavailable;
use crate::events::Event;
use crate::migrations;
use spin_sdk::pg4::{Connection, DbValue, ParameterValue, PgError, QueryError, RowSet};

/// SQL statements, all with `$n` parameters.
pub mod sql {
    /// The database clock as ISO-8601 UTC text with microseconds.
    pub const NOW: &str =
        r#"SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"#;
    /// A login name is a username or an e-mail (any case); a username match wins.
    pub const FIND_LOGIN_USER: &str = r#"SELECT u.id, u.username, u.email, u.password
        FROM (SELECT 1) AS one
        LEFT JOIN "user" u ON u.username = $1 OR lower(u.email) = lower($1)
        ORDER BY (u.username = $1) DESC NULLS LAST
        LIMIT 1"#;
    pub const FIND_USER: &str = r#"SELECT u.id, u.username, u.email
        FROM (SELECT 1) AS one
        LEFT JOIN "user" u ON u.id = $1"#;
    /// A good login: reset the failure counter, stamp the time, replace the
    /// hash when `$2` is not null, and queue the event, atomically.
    pub const LOGIN_SUCCEEDED: &str = r#"WITH updated AS (
            UPDATE "user" SET password = COALESCE($2::varchar, password),
                last_login_at = now(), failed_login_count = 0,
                updated_at = CASE WHEN $2::varchar IS NULL THEN updated_at ELSE now() END
            WHERE id = $1 RETURNING id)
        INSERT INTO auth_outbox (id, event, payload) SELECT $3::varchar, $4::varchar, $5::jsonb FROM updated"#;
    /// A failed login: count it against the account (if any) and queue the event.
    pub const LOGIN_FAILED: &str = r#"WITH counted AS (
            UPDATE "user" SET failed_login_count = failed_login_count + 1 WHERE id = $1 RETURNING id)
        INSERT INTO auth_outbox (id, event, payload) VALUES ($2, $3, $4)"#;
    /// Registration: insert unless the username or (case-insensitive) e-mail
    /// is taken, queue the event, and report which one clashed.
    pub const REGISTER: &str = r#"WITH inserted AS (
            INSERT INTO "user" (id, username, password, email)
            SELECT $1::varchar, $2::varchar, $3::varchar, $4::varchar
            WHERE NOT EXISTS (SELECT 1 FROM "user" WHERE username = $2 OR lower(email) = lower($4))
            ON CONFLICT DO NOTHING
            RETURNING id),
        queued AS (
            INSERT INTO auth_outbox (id, event, payload) SELECT $5::varchar, $6::varchar, $7::jsonb FROM inserted RETURNING id)
        SELECT (SELECT count(*) FROM inserted)::int4 AS created,
            EXISTS (SELECT 1 FROM "user" WHERE username = $2) AS username_taken"#;
    pub const INSERT_EVENT: &str = "INSERT INTO auth_outbox (id, event, payload) VALUES ($1, $2, $3)";
    /// Health: the outbox backlog and the age of its oldest row, always one row.
    pub const OUTBOX_BACKLOG: &str = "SELECT count(*)::int8,
            COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8
        FROM auth_outbox WHERE published_at IS NULL";
    pub const BEGIN: &str = "BEGIN";
    /// Serialises publishers, so that events leave in outbox order even when
    /// several requests deliver at once.
    pub const LOCK_PUBLISHING: &str = "SELECT pg_advisory_xact_lock($1)";
    pub const COMMIT: &str = "COMMIT";
    pub const ROLLBACK: &str = "ROLLBACK";
    /// Claims the oldest pending rows for this transaction; rows another
    /// instance is publishing are skipped. One row of nulls when none.
    pub const CLAIM_PENDING: &str = "SELECT o.seq, o.id, o.event, o.payload::text,
            EXTRACT(EPOCH FROM o.created_at)::int8
        FROM (SELECT 1) AS one
        LEFT JOIN LATERAL (
            SELECT seq, id, event, payload, created_at FROM auth_outbox
            WHERE published_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED) o ON true
        ORDER BY o.seq";
    /// Marks a claimed batch: confirmed rows published, the rest keep their
    /// place with the error that held them back.
    pub const MARK_BATCH: &str = "UPDATE auth_outbox SET attempts = attempts + 1,
            published_at = CASE WHEN seq = ANY($1::int8[]) THEN now() ELSE published_at END,
            last_error = CASE WHEN seq = ANY($1::int8[]) THEN last_error ELSE $3::text END
        WHERE seq = ANY($2::int8[])";
}

/// Key of the transaction-scoped advisory lock held while publishing.
const PUBLISH_LOCK_KEY: i64 = 0x6175_7468_6f75_74; // "authout"

/// An outbox row claimed for publishing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEvent {
    pub seq: i64,
    pub id: String,
    pub name: String,
    pub body: String,
    pub created_epoch: i64,
}

/// The outbox backlog, for health.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backlog {
    pub pending: i64,
    pub oldest_seconds: f64,
}

/// A user row as the endpoints need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub username: String,
    pub email: String,
    /// Only filled by the login lookup.
    pub password: Option<String>,
}

/// What registration found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    Created,
    UsernameTaken,
    EmailTaken,
}

/// A new account, already validated and hashed.
pub struct NewUser<'a> {
    pub id: &'a str,
    pub username: &'a str,
    pub email: &'a str,
    pub password_hash: &'a str,
}

/// How a `spin:postgres` error is reported: a short code for the client and
/// the (redacted) detail for the log.
fn classify(url: &DatabaseUrl, what: &str, err: &PgError) -> Unavailable {
    let (kind, detail) = match err {
        PgError::ConnectionFailed(msg) if msg.contains("not permitted") => (Unavailable::DatabaseNotAllowed, msg.clone()),
        PgError::ConnectionFailed(msg) => (Unavailable::DatabaseUnreachable, msg.clone()),
        PgError::QueryFailed(QueryError::DbError(e)) => (Unavailable::DatabaseError, format!("{} ({})", e.message, e.code)),
        other => (Unavailable::DatabaseError, format!("{other:?}")),
    };
    eprintln!("auth: {what} failed ({}): {}", kind.code(), url.redact(&detail));
    kind
}

/// Whether an error means the schema is missing a table or column.
fn is_schema_missing(err: &PgError) -> bool {
    matches!(err, PgError::QueryFailed(QueryError::DbError(e)) if e.code == "42P01" || e.code == "42703")
}

fn text(value: &str) -> ParameterValue {
    ParameterValue::Str(value.to_owned())
}

fn json(event: &Event) -> ParameterValue {
    ParameterValue::Jsonb(event.body.clone())
}

fn cell_text(value: Option<&DbValue>) -> Option<String> {
    match value {
        Some(DbValue::Str(s)) => Some(s.clone()),
        _ => None,
    }
}

/// An open database connection.
pub struct Store {
    url: DatabaseUrl,
    conn: Connection,
}

impl Store {
    pub fn open(url: DatabaseUrl) -> Result<Store, Unavailable> {
        match Connection::open(url.expose()) {
            Ok(conn) => Ok(Store { url, conn }),
            Err(err) => Err(classify(&url, "opening the database connection", &err)),
        }
    }

    /// Runs `op`; when it fails because the schema is missing, applies the
    /// migrations and tries once more.
    fn with_schema<T>(&self, what: &str, op: impl Fn(&Connection) -> Result<T, PgError>) -> Result<T, Unavailable> {
        match op(&self.conn) {
            Err(err) if is_schema_missing(&err) => {
                eprintln!("auth: {what}: schema is missing a table or column; applying migrations");
                self.migrate()?;
                op(&self.conn).map_err(|err| classify(&self.url, what, &err))
            }
            other => other.map_err(|err| classify(&self.url, what, &err)),
        }
    }

    fn first_text(&self, what: &str, statement: &str) -> Result<String, Unavailable> {
        let rows = self.conn.query(statement, &[]).map_err(|err| classify(&self.url, what, &err))?;
        match rows.rows.first().and_then(|row| row.first()) {
            Some(DbValue::Str(text)) => Ok(text.clone()),
            Some(DbValue::Int32(n)) => Ok(n.to_string()),
            other => {
                eprintln!("auth: {what} returned an unexpected value: {other:?}");
                Err(Unavailable::DatabaseError)
            }
        }
    }

    /// The outbox backlog; also proves the database answers.
    pub fn backlog(&self) -> Result<Backlog, Unavailable> {
        let rows = self.with_schema("reading the outbox backlog", |c| c.query(sql::OUTBOX_BACKLOG, &[]))?;
        match rows.rows.first().map(|r| (r.first(), r.get(1))) {
            Some((Some(DbValue::Int64(pending)), Some(DbValue::Floating64(age)))) => {
                Ok(Backlog { pending: *pending, oldest_seconds: *age })
            }
            other => {
                eprintln!("auth: outbox backlog returned an unexpected row: {other:?}");
                Err(Unavailable::DatabaseError)
            }
        }
    }

    fn run(&self, what: &str, statement: &str) -> Result<(), Unavailable> {
        self.conn.execute(statement, &[]).map(drop).map_err(|err| classify(&self.url, what, &err))
    }

    /// Opens the transaction a batch is claimed, published and marked in,
    /// and waits for any other publisher to finish.
    pub fn begin_publishing(&self) -> Result<(), Unavailable> {
        self.run("starting a transaction", sql::BEGIN)?;
        let lock = [ParameterValue::Int64(PUBLISH_LOCK_KEY)];
        self.conn.execute(sql::LOCK_PUBLISHING, &lock).map(drop).map_err(|err| {
            self.rollback();
            classify(&self.url, "taking the publishing lock", &err)
        })
    }

    pub fn commit(&self) -> Result<(), Unavailable> {
        self.run("committing", sql::COMMIT)
    }

    pub fn rollback(&self) {
        let _ = self.conn.execute(sql::ROLLBACK, &[]);
    }

    /// Locks up to `limit` of the oldest pending events.
    pub fn claim_pending(&self, limit: i64) -> Result<Vec<PendingEvent>, Unavailable> {
        let rows = self.with_schema("claiming outbox rows", |c| c.query(sql::CLAIM_PENDING, &[ParameterValue::Int64(limit)]))?;
        Ok(rows
            .rows
            .iter()
            .filter_map(|row| match row.as_slice() {
                [DbValue::Int64(seq), DbValue::Str(id), DbValue::Str(name), DbValue::Str(body), DbValue::Int64(created)] => {
                    Some(PendingEvent { seq: *seq, id: id.clone(), name: name.clone(), body: body.clone(), created_epoch: *created })
                }
                _ => None,
            })
            .collect())
    }

    /// Records the outcome of publishing a claimed batch.
    pub fn mark_batch(&self, confirmed: &[i64], claimed: &[i64], error: Option<&str>) -> Result<(), Unavailable> {
        let params = [
            ParameterValue::ArrayInt64(confirmed.iter().map(|s| Some(*s)).collect()),
            ParameterValue::ArrayInt64(claimed.iter().map(|s| Some(*s)).collect()),
            error.map_or(ParameterValue::DbNull, text),
        ];
        self.conn.execute(sql::MARK_BATCH, &params).map(drop).map_err(|err| classify(&self.url, "marking outbox rows", &err))
    }

    /// The database's current time, ISO-8601 UTC.
    pub fn now(&self) -> Result<String, Unavailable> {
        self.first_text("reading the database time", sql::NOW)
    }

    /// The account a login name (username or e-mail) refers to.
    pub fn find_login_user(&self, login: &str) -> Result<Option<User>, Unavailable> {
        let rows = self.with_schema("looking up a login", |c| c.query(sql::FIND_LOGIN_USER, &[text(login)]))?;
        Ok(first_user(&rows, true))
    }

    pub fn find_user(&self, id: &str) -> Result<Option<User>, Unavailable> {
        let rows = self.with_schema("looking up a user", |c| c.query(sql::FIND_USER, &[text(id)]))?;
        Ok(first_user(&rows, false))
    }

    /// Records a good login; `false` when the account vanished meanwhile.
    pub fn login_succeeded(&self, user_id: &str, new_hash: Option<&str>, event: &Event) -> Result<bool, Unavailable> {
        let hash = new_hash.map_or(ParameterValue::DbNull, text);
        let params = [text(user_id), hash, text(&event.id), text(event.name), json(event)];
        let rows = self.with_schema("recording a login", |c| c.execute(sql::LOGIN_SUCCEEDED, &params))?;
        Ok(rows == 1)
    }

    pub fn login_failed(&self, user_id: Option<&str>, event: &Event) -> Result<(), Unavailable> {
        let params = [text(user_id.unwrap_or("")), text(&event.id), text(event.name), json(event)];
        self.with_schema("recording a failed login", |c| c.execute(sql::LOGIN_FAILED, &params)).map(drop)
    }

    pub fn register(&self, user: &NewUser<'_>, event: &Event) -> Result<Registration, Unavailable> {
        let params = [
            text(user.id),
            text(user.username),
            text(user.password_hash),
            text(user.email),
            text(&event.id),
            text(event.name),
            json(event),
        ];
        let rows = self.with_schema("registering a user", |c| c.query(sql::REGISTER, &params))?;
        let row = rows.rows.first().ok_or(Unavailable::DatabaseError)?;
        Ok(match (row.first(), row.get(1)) {
            (Some(DbValue::Int32(1)), _) => Registration::Created,
            (_, Some(DbValue::Boolean(true))) => Registration::UsernameTaken,
            _ => Registration::EmailTaken,
        })
    }

    pub fn insert_event(&self, event: &Event) -> Result<(), Unavailable> {
        let params = [text(&event.id), text(event.name), json(event)];
        self.with_schema("storing an event", |c| c.execute(sql::INSERT_EVENT, &params)).map(drop)
    }

    /// Applies pending migrations; returns the versions applied.
    pub fn migrate(&self) -> Result<Vec<i32>, Unavailable> {
        let run = |what: &str, statement: &str, params: &[ParameterValue]| {
            self.conn.execute(statement, params).map_err(|err| classify(&self.url, what, &err))
        };
        run("starting migrations", migrations::sql::BEGIN, &[])?;
        let result = (|| {
            run("taking the migration lock", migrations::sql::LOCK, &[ParameterValue::Int64(migrations::LOCK_KEY)])?;
            run("creating the migrations table", migrations::sql::CREATE_VERSIONS, &[])?;
            let current: i32 = self.first_text("reading the schema version", migrations::sql::CURRENT_VERSION)?
                .parse()
                .map_err(|_| Unavailable::DatabaseError)?;
            let mut applied = Vec::new();
            for migration in migrations::pending(current) {
                for statement in migration.statements() {
                    run(migration.name, &statement, &[])?;
                }
                run(
                    "recording a migration",
                    migrations::sql::RECORD,
                    &[ParameterValue::Int32(migration.version), text(migration.name)],
                )?;
                applied.push(migration.version);
            }
            run("committing migrations", migrations::sql::COMMIT, &[])?;
            Ok(applied)
        })();
        if result.is_err() {
            let _ = self.conn.execute(migrations::sql::ROLLBACK, &[]);
        }
        result
    }
}

/// The user in the first row, or `None` when the row is the join's nulls.
fn first_user(rows: &RowSet, with_password: bool) -> Option<User> {
    let row = rows.rows.first()?;
    Some(User {
        id: cell_text(row.first())?,
        username: cell_text(row.get(1))?,
        email: cell_text(row.get(2))?,
        password: if with_password { cell_text(row.get(3)) } else { None },
    })
}
