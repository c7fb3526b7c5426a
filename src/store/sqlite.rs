//! The SQLite store: Spin's SQLite database (`spin:sqlite@3.0.0`), the
//! default when `database_url` is empty.
//!
//! Every write unit is one statement (see [`super::sqlite_sql`]), which
//! SQLite runs as its own transaction holding the writer lock: the effect of
//! `BEGIN IMMEDIATE … COMMIT` in one host call. A transaction spread over
//! several calls would hold the lock while the component waits for a
//! thread between them, and on a host busy with password hashing (Spin runs
//! every guest to its next host call) that wait outlasted the other
//! writers' busy timeouts (README, "The embedded store"). Only migrations,
//! which run once, use an explicit transaction.
//!
//! Spin opens a new connection per `open` and sets nothing on it, so it has
//! rusqlite's 5 s busy timeout: a writer waits that long for the writer lock
//! inside the host. Should it still find the database locked, the statement
//! is tried again after a short random pause until a time budget is spent,
//! and only then does the request answer 503 `database_busy`.

use super::sqlite_sql as sql;
use super::{
    Backlog, BatchOutcome, Bearer, Ended, IssuedToken, LogoutScope, NewSession, NewUser, PendingEvent, Refresh, RefreshAttempt, RefreshTerms,
    Registration, LoginLookup, Resend, SessionInfo, SessionLookup, Store, Throttle, ThrottleTerms, User,
};
use crate::client_throttle::{Admission, ClientTerms};
use crate::errors::Unavailable;
use crate::signing_keys::SigningAlg;
use crate::events::Event;
use crate::migrations;
use spin_sdk::sqlite3::{Connection, Error, QueryResult, Value};
use std::time::Duration;

/// How long a unit of work keeps trying while it finds the database locked
/// (each try itself waits up to the 5 s busy timeout).
const BUSY_BUDGET: Duration = Duration::from_secs(15);
/// Migrations run once, while every other request waits for them.
const MIGRATION_BUSY_BUDGET: Duration = Duration::from_secs(60);
/// The publishing lease outlives any one batch (the bridge gives up on a
/// silent broker within seconds); a crashed holder's lease expires.
const LEASE_SECONDS: i64 = 60;

/// How a `spin:sqlite` error is reported: a short code for the client and
/// the detail for the log (SQLite's messages hold no secrets).
fn classify(what: &str, err: &Error) -> Unavailable {
    let kind = match err {
        Error::AccessDenied | Error::NoSuchDatabase => Unavailable::DatabaseNotAllowed,
        Error::InvalidConnection => Unavailable::DatabaseUnreachable,
        Error::Io(msg) if is_busy(msg) => Unavailable::DatabaseBusy,
        Error::Io(msg) if msg.contains("unable to open database file") => Unavailable::DatabaseUnreachable,
        Error::Io(_) | Error::DatabaseFull => Unavailable::DatabaseError,
    };
    let hint = match err {
        Error::AccessDenied => " (add the label to the component's sqlite_databases in spin.toml)",
        Error::NoSuchDatabase => " (the runtime configuration defines no such database)",
        _ => "",
    };
    eprintln!("auth: {what} failed ({}): {err:?}{hint}", kind.code());
    kind
}

/// SQLITE_BUSY and SQLITE_LOCKED, as rusqlite words them.
fn is_busy(message: &str) -> bool {
    message.contains("database is locked") || message.contains("is locked") || message.contains("database is busy")
}

fn is_busy_error(err: &Error) -> bool {
    matches!(err, Error::Io(msg) if is_busy(msg))
}

/// Whether an error means the schema is missing a table or column.
fn is_schema_missing(err: &Error) -> bool {
    matches!(err, Error::Io(msg) if msg.contains("no such table") || msg.contains("no such column"))
}

/// 10, 40, 160 ms, each plus up to as much again at random, so that
/// writers that collided do not collide again.
fn busy_pause(attempt: u32) -> Duration {
    let base = 10u64 << (2 * attempt.min(4));
    let mut byte = [0u8; 1];
    let jitter = getrandom::fill(&mut byte).map_or(0, |()| base * u64::from(byte[0]) / 255);
    Duration::from_millis(base + jitter)
}

fn text(value: &str) -> Value {
    Value::Text(value.to_owned())
}

fn json(event: &Event) -> Value {
    Value::Text(String::from_utf8_lossy(&event.body).into_owned())
}

/// Sequence numbers as a JSON array, for `json_each`.
fn seq_list(seqs: &[i64]) -> Value {
    Value::Text(serde_json::to_string(seqs).unwrap_or_else(|_| "[]".into()))
}

fn cell_text(value: Option<&Value>) -> Option<String> {
    match value {
        Some(Value::Text(s)) => Some(s.clone()),
        _ => None,
    }
}

/// The user whose id, username and e-mail start at column `at`.
fn user_at(row: &[Value], at: usize) -> Option<User> {
    Some(User {
        id: cell_text(row.get(at))?,
        username: cell_text(row.get(at + 1))?,
        email: cell_text(row.get(at + 2))?,
        password: None,
    })
}

fn first_row(result: &QueryResult) -> Option<&[Value]> {
    result.rows.first().map(|row| row.values.as_slice())
}

fn version_of(result: &QueryResult) -> i32 {
    match first_row(result) {
        Some([Value::Integer(v)]) => i32::try_from(*v).unwrap_or(i32::MAX),
        _ => 0,
    }
}

/// An open connection to one of Spin's SQLite databases.
pub struct SqliteStore {
    label: &'static str,
    conn: Connection,
    /// Who this instance is when it holds the publishing lease; made on
    /// first use, so requests that never deliver pay no random-source call.
    lease_holder: std::cell::OnceCell<String>,
}

impl SqliteStore {
    pub fn open(label: &'static str) -> Result<SqliteStore, Unavailable> {
        match Connection::open(label) {
            Ok(conn) => Ok(SqliteStore { label, conn, lease_holder: std::cell::OnceCell::new() }),
            Err(err) => Err(classify(&format!("opening SQLite database {label:?}"), &err)),
        }
    }

    fn lease_holder(&self) -> &str {
        self.lease_holder.get_or_init(|| uuid::Uuid::new_v4().to_string())
    }

    fn exec(&self, statement: &str, params: &[Value]) -> Result<QueryResult, Error> {
        self.conn.execute(statement, params)
    }

    /// Runs `op` again, after a pause, while it finds the database locked
    /// and the budget is not spent.
    fn retrying<T>(&self, op: impl Fn() -> Result<T, Error>) -> Result<T, Error> {
        let started = std::time::Instant::now();
        let mut attempt = 0;
        loop {
            match op() {
                Err(err) if is_busy_error(&err) && started.elapsed() < BUSY_BUDGET => {
                    std::thread::sleep(busy_pause(attempt));
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Finishes the transaction begun before: `op`, then COMMIT; any error
    /// rolls it back.
    fn in_transaction<T>(&self, op: impl Fn() -> Result<T, Error>) -> Result<T, Error> {
        match op().and_then(|value| self.exec(sql::COMMIT, &[]).map(|_| value)) {
            Ok(value) => Ok(value),
            Err(err) => {
                let _ = self.exec(sql::ROLLBACK, &[]);
                Err(err)
            }
        }
    }

    /// Runs `op` (with the busy retries); when it fails because the schema
    /// is missing, applies the migrations and tries once more.
    fn with_schema<T>(&self, what: &str, op: impl Fn() -> Result<T, Error>) -> Result<T, Unavailable> {
        match self.retrying(&op) {
            Err(err) if is_schema_missing(&err) => {
                eprintln!("auth: {what}: schema is missing a table or column; applying migrations");
                self.migrate()?;
                self.retrying(&op).map_err(|err| classify(what, &err))
            }
            other => other.map_err(|err| classify(what, &err)),
        }
    }


    fn switch_to_wal(&self) {
        match self.exec(sql::JOURNAL_MODE_WAL, &[]) {
            Ok(result) => match first_row(&result) {
                Some([Value::Text(mode)]) if mode == "wal" => {}
                other => eprintln!("auth: SQLite database {:?} keeps journal mode {other:?}", self.label),
            },
            Err(err) => eprintln!("auth: SQLite database {:?}: cannot switch to write-ahead logging: {err:?}", self.label),
        }
    }

    /// The recorded schema version; 0 before the first migration.
    fn schema_version(&self) -> Result<i32, Unavailable> {
        match self.retrying(|| self.exec(sql::CURRENT_VERSION, &[])) {
            Ok(result) => Ok(version_of(&result)),
            Err(err) if is_schema_missing(&err) => Ok(0),
            Err(err) => Err(classify("reading the schema version", &err)),
        }
    }

    /// Runs a write unit and reads back whether it queued its event.
    fn queued(&self, what: &str, statement: &str, params: &[Value], event: &Event) -> Result<bool, Unavailable> {
        self.with_schema(what, || self.exec(statement, params))?;
        let check = self.retrying(|| self.exec(sql::EVENT_QUEUED, &[text(&event.id)])).map_err(|e| classify(what, &e))?;
        Ok(matches!(first_row(&check), Some([Value::Integer(1)])))
    }

    /// Logs out (`scope` local, others, global) or ends session `target`
    /// (`scope` session); when nothing happened, tells why.
    fn end(&self, bearer: Bearer<'_>, scope: &str, target: Option<&str>, event: &Event) -> Result<Ended, Unavailable> {
        let session = bearer.session_id.map_or(Value::Null, text);
        let params = [
            text(bearer.user_id),
            session.clone(),
            text(scope),
            target.map_or(Value::Null, text),
            text(&event.id),
            text(event.name),
            json(event),
        ];
        if self.queued("ending sessions", sql::LOGOUT, &params, event)? {
            return Ok(Ended::Done);
        }
        let what = "checking a session";
        let live = self.retrying(|| self.exec(sql::BEARER_LIVE, &[text(bearer.user_id), session.clone()])).map_err(|e| classify(what, &e))?;
        Ok(match first_row(&live) {
            Some([Value::Integer(1)]) => Ended::NotFound,
            _ => Ended::CallerRevoked,
        })
    }

    fn release_lease(&self, after_seq: i64) -> Result<bool, Error> {
        let result = self.exec(sql::RELEASE_PUBLISHER_LEASE, &[text(self.lease_holder()), Value::Integer(after_seq)])?;
        Ok(matches!(first_row(&result), Some([Value::Integer(1)])))
    }
}

impl Store for SqliteStore {
    fn now(&self) -> Result<String, Unavailable> {
        let result = self.retrying(|| self.exec(sql::NOW, &[])).map_err(|err| classify("reading the database time", &err))?;
        cell_text(first_row(&result).and_then(|row| row.first())).ok_or(Unavailable::DatabaseError)
    }

    fn ping(&self) -> Result<(), Unavailable> {
        self.retrying(|| self.exec(sql::PING, &[])).map(drop).map_err(|err| classify("pinging the database", &err))
    }

    fn backlog(&self) -> Result<Backlog, Unavailable> {
        let result = self.with_schema("reading the outbox backlog", || self.exec(sql::OUTBOX_BACKLOG, &[]))?;
        match first_row(&result) {
            Some([Value::Integer(pending), Value::Real(age)]) => Ok(Backlog { pending: *pending, oldest_seconds: *age }),
            other => {
                eprintln!("auth: outbox backlog returned an unexpected row: {other:?}");
                Err(Unavailable::DatabaseError)
            }
        }
    }

    /// One statement, the client's token included (a trigger takes it,
    /// see [`sql::FIND_LOGIN_USER`]); only a refused client costs a second,
    /// which reads how long it must wait.
    fn find_login_user(&self, login: &str, signing_alg: SigningAlg, terms: ThrottleTerms, client: Option<&ClientTerms>)
        -> Result<LoginLookup, Unavailable> {
        let params = [
            text(login),
            text(&crate::accounts::fold_case(login)),
            Value::Integer(terms.threshold),
            Value::Integer(terms.base_seconds),
            Value::Integer(terms.max_seconds),
            text(signing_alg.as_str()),
            client.map_or(Value::Null, |c| text(&c.client)),
            client.map_or(Value::Null, |c| Value::Real(c.burst)),
            client.map_or(Value::Null, |c| Value::Real(c.per_second)),
        ];
        let what = "looking up a login";
        let result = self.with_schema(what, || self.exec(sql::FIND_LOGIN_USER, &params))?;
        if let (None, Some(client)) = (first_row(&result), client) {
            let left = self.retrying(|| self.exec(sql::CLIENT_TOKENS, &[text(&client.client)])).map_err(|e| classify(what, &e))?;
            let tokens = match first_row(&left) {
                Some([Value::Real(tokens)]) => *tokens,
                _ => 0.0,
            };
            return Ok(LoginLookup { client: Admission::Refused { retry_after: client.retry_after(tokens) }, ..LoginLookup::default() });
        }
        let Some([Value::Integer(refused), Value::Integer(failures), locked_until, retry, account]) = first_row(&result) else {
            eprintln!("auth: a login reservation returned an unexpected row: {:?}", first_row(&result));
            return Err(Unavailable::DatabaseError);
        };
        let throttle = Throttle {
            refused: *refused != 0,
            failures: *failures,
            retry_after: match (retry, locked_until) {
                (Value::Integer(seconds), Value::Text(_)) if *seconds > 0 => Some(*seconds),
                _ => None,
            },
            locked_until: cell_text(Some(locked_until)),
        };
        // The account as a JSON array: id, username, e-mail, hash, key, and
        // "verified" or null.
        let user = cell_text(Some(account)).and_then(|json| {
            let fields: Vec<Option<String>> = serde_json::from_str(&json).ok()?;
            let mut fields = fields.into_iter();
            let mut next = || fields.next().flatten();
            let (id, username, email, password, key, verified) = (next(), next(), next(), next(), next(), next());
            Some((User { id: id?, username: username?, email: email?, password }, key, verified.is_some()))
        });
        let email_verified = user.as_ref().is_some_and(|(.., verified)| *verified);
        Ok(LoginLookup { client: Admission::Admitted, throttle, user: user.map(|(user, key, _)| (user, key)), email_verified })
    }

    fn find_user(&self, id: &str) -> Result<Option<User>, Unavailable> {
        let result = self.with_schema("looking up a user", || self.exec(sql::FIND_USER, &[text(id)]))?;
        Ok(first_row(&result).and_then(|row| user_at(row, 0)))
    }

    fn find_session_user(&self, user_id: &str, session_id: &str) -> Result<Option<(User, bool)>, Unavailable> {
        let params = [text(user_id), text(session_id)];
        let result = self.with_schema("looking up a session", || self.exec(sql::FIND_SESSION_USER, &params))?;
        Ok(first_row(&result).and_then(|row| {
            let live = matches!(row.get(3), Some(Value::Integer(1)));
            Some((user_at(row, 0)?, live))
        }))
    }

    fn find_session_user_and_key(&self, user_id: &str, session_id: &str, kid: &str) -> Result<SessionLookup, Unavailable> {
        let params = [text(user_id), text(session_id), text(kid)];
        let result = self.with_schema("looking up a session", || self.exec(sql::FIND_SESSION_USER_AND_KEY, &params))?;
        let row = first_row(&result);
        Ok(SessionLookup {
            user: row.and_then(|row| user_at(row, 0)),
            live: matches!(row.and_then(|r| r.get(3)), Some(Value::Integer(1))),
            verifying_key: cell_text(row.and_then(|r| r.get(4))),
        })
    }

    fn verifying_key(&self, kid: &str) -> Result<Option<String>, Unavailable> {
        let result = self.with_schema("looking up a signing key", || self.exec(sql::VERIFYING_KEY, &[text(kid)]))?;
        Ok(cell_text(first_row(&result).and_then(|r| r.first())))
    }

    fn published_keys(&self) -> Result<Vec<String>, Unavailable> {
        let result = self.with_schema("listing signing keys", || self.exec(sql::PUBLISHED_KEYS, &[]))?;
        Ok(result.rows.iter().filter_map(|r| cell_text(r.values.first())).collect())
    }

    fn add_signing_key(&self, key: &crate::signing_keys::NewKey, activation_seconds: i64, grace_seconds: i64) -> Result<(), Unavailable> {
        let params = super::signing_key_params(key, [activation_seconds, grace_seconds], text, Value::Integer);
        self.with_schema("adding a signing key", || self.exec(sql::ADD_SIGNING_KEY, &params)).map(drop)
    }

    /// Two statements: the insert decides under the writer lock, and the key
    /// that signs is read after it.
    fn add_first_signing_key(&self, key: &crate::signing_keys::NewKey, grace_seconds: i64) -> Result<Option<String>, Unavailable> {
        let params = super::signing_key_params(key, [0, grace_seconds], text, Value::Integer);
        self.with_schema("adding a first signing key", || self.exec(sql::ADD_FIRST_SIGNING_KEY, &params))?;
        let result = self.with_schema("reading the signing key", || self.exec(sql::SIGNING_KEY, &[text(key.alg.as_str())]))?;
        Ok(result.rows.first().and_then(|r| cell_text(r.values.first())))
    }

    fn login_succeeded(&self, user_id: &str, verified: &str, new_hash: Option<&str>, session: &NewSession<'_>, event: &Event) -> Result<bool, Unavailable> {
        let optional = |value: Option<&str>| value.map_or(Value::Null, text);
        let params = [
            text(user_id),
            optional(new_hash),
            text(&event.id),
            text(event.name),
            json(event),
            text(session.id),
            Value::Integer(session.idle_seconds),
            Value::Integer(session.max_seconds),
            optional(session.user_agent),
            optional(session.ip),
            text(&crate::accounts::fold_case(session.login)),
            text(verified),
        ];
        self.queued("recording a login", sql::LOGIN_SUCCEEDED, &params, event)
    }

    /// The client's bucket is its own statement, as for a login.
    fn refresh(&self, attempt: &RefreshAttempt<'_>, terms: RefreshTerms) -> Result<Refresh, Unavailable> {
        let RefreshAttempt { session_id, generation, reuse_event_id, signing_alg, client } = *attempt;
        if let Some(Admission::Refused { retry_after }) = client.map(|c| self.take_client_token(c)).transpose()? {
            return Ok(Refresh::Throttled { retry_after });
        }
        let params = [
            text(session_id),
            Value::Integer(generation.into()),
            Value::Integer(terms.idle_seconds),
            Value::Integer(terms.grace_seconds),
            text(reuse_event_id),
            text(signing_alg.as_str()),
        ];
        let result = self.with_schema("refreshing a session", || self.exec(sql::REFRESH, &params))?;
        Ok(match first_row(&result) {
            Some([_, Value::Text(revoked_by), ..]) if revoked_by == reuse_event_id => Refresh::Reused,
            Some([Value::Integer(newest), Value::Null, rest @ ..]) if *newest == i64::from(generation) + 1 => {
                match (u32::try_from(*newest), user_at(rest, 0)) {
                    (Ok(generation), Some(user)) => Refresh::Renewed { generation, user, signing_key: cell_text(rest.get(3)) },
                    _ => Refresh::Invalid,
                }
            }
            _ => Refresh::Invalid,
        })
    }

    fn logout(&self, bearer: Bearer<'_>, scope: LogoutScope, event: &Event) -> Result<Ended, Unavailable> {
        self.end(bearer, scope.as_str(), None, event)
    }

    fn end_session(&self, bearer: Bearer<'_>, session_id: &str, event: &Event) -> Result<Ended, Unavailable> {
        self.end(bearer, "session", Some(session_id), event)
    }

    fn list_sessions(&self, bearer: Bearer<'_>) -> Result<Option<Vec<SessionInfo>>, Unavailable> {
        let params = [text(bearer.user_id), bearer.session_id.map_or(Value::Null, text)];
        let result = self.with_schema("listing sessions", || self.exec(sql::LIST_SESSIONS, &params))?;
        if !matches!(first_row(&result), Some([Value::Integer(1), ..])) {
            return Ok(None);
        }
        Ok(Some(
            result
                .rows
                .iter()
                .filter_map(|row| {
                    let row = row.values.as_slice();
                    Some(SessionInfo {
                        id: cell_text(row.get(1))?,
                        created_at: cell_text(row.get(2))?,
                        last_used_at: cell_text(row.get(3))?,
                        user_agent: cell_text(row.get(4)),
                        ip: cell_text(row.get(5)),
                    })
                })
                .collect(),
        ))
    }

    fn change_password(&self, bearer: Bearer<'_>, verified: &str, new_hash: &str, login: &str, event: &Event) -> Result<bool, Unavailable> {
        let params = super::password_change_params(bearer, verified, new_hash, login, event, Value::Null, text, json);
        self.queued("changing a password", sql::CHANGE_PASSWORD, &params, event)
    }

    fn login_failed(&self, user_id: Option<&str>, event: &Event) -> Result<(), Unavailable> {
        let params = [user_id.map_or(Value::Null, text), text(&event.id), text(event.name), json(event)];
        self.with_schema("recording a failed login", || self.exec(sql::LOGIN_FAILED, &params).map(drop))
    }

    fn register(&self, user: &NewUser<'_>, event: &Event, verification: &IssuedToken<'_>) -> Result<Registration, Unavailable> {
        let params = super::registration_params(user, event, verification, text, json);
        let what = "registering a user";
        self.with_schema(what, || self.exec(sql::REGISTER, &params))?;
        let result = self
            .retrying(|| self.exec(sql::REGISTRATION_RESULT, &[text(user.id), text(user.username)]))
            .map_err(|e| classify(what, &e))?;
        Ok(match first_row(&result) {
            Some([Value::Integer(1), _]) => Registration::Created,
            Some([_, Value::Integer(1)]) => Registration::UsernameTaken,
            _ => Registration::EmailTaken,
        })
    }

    fn take_client_token(&self, client: &ClientTerms) -> Result<Admission, Unavailable> {
        let params = [text(&client.client), Value::Real(client.burst), Value::Real(client.per_second)];
        let result = self.with_schema("taking a client's token", || self.exec(sql::TAKE_CLIENT_TOKEN, &params))?;
        match first_row(&result) {
            Some([Value::Integer(admitted), _]) if *admitted != 0 => Ok(Admission::Admitted),
            Some([Value::Integer(_), Value::Real(tokens)]) => Ok(Admission::Refused { retry_after: client.retry_after(*tokens) }),
            Some([Value::Integer(_), Value::Integer(tokens)]) => Ok(Admission::Refused { retry_after: client.retry_after(*tokens as f64) }),
            other => {
                eprintln!("auth: a client bucket returned an unexpected row: {other:?}");
                Err(Unavailable::DatabaseError)
            }
        }
    }

    fn purge_throttles(&self, bucket_idle_seconds: i64) -> Result<(), Unavailable> {
        self.with_schema("purging idle throttle rows", || {
            self.exec(sql::PURGE_CLIENT_BUCKETS, &[Value::Integer(bucket_idle_seconds)])?;
            self.exec(sql::PURGE_LOGIN_THROTTLE, &[]).map(drop)
        })
    }

    fn refund_attempt(&self, login: &str) -> Result<(), Unavailable> {
        let params = [text(&crate::accounts::fold_case(login))];
        self.with_schema("refunding a login attempt", || self.exec(sql::REFUND_ATTEMPT, &params).map(drop))
    }

    fn request_password_reset(&self, email: &str, token: &IssuedToken<'_>) -> Result<bool, Unavailable> {
        let params = [text(email), text(token.hash), text(token.expires_at), text(&token.event.id), text(token.event.name), json(token.event)];
        self.queued("requesting a password reset", sql::REQUEST_PASSWORD_RESET, &params, token.event)
    }

    fn reset_password(&self, token_hash: &str, new_hash: &str, event: &Event) -> Result<bool, Unavailable> {
        let params = [text(token_hash), text(new_hash), text(&event.id), text(event.name), json(event)];
        self.queued("resetting a password", sql::RESET_PASSWORD, &params, event)
    }

    fn verify_email(&self, token_hash: &str, event: &Event) -> Result<bool, Unavailable> {
        let params = [text(token_hash), text(&event.id), text(event.name), json(event)];
        self.queued("verifying an e-mail address", sql::VERIFY_EMAIL, &params, event)
    }

    fn resend_verification(&self, bearer: Bearer<'_>, token: &IssuedToken<'_>) -> Result<Resend, Unavailable> {
        let session = bearer.session_id.map_or(Value::Null, text);
        let params = [
            text(bearer.user_id),
            session.clone(),
            text(token.hash),
            text(token.expires_at),
            text(&token.event.id),
            text(token.event.name),
            json(token.event),
        ];
        let what = "issuing a verification token";
        if self.queued(what, sql::RESEND_VERIFICATION, &params, token.event)? {
            return Ok(Resend::Sent);
        }
        let why = self.retrying(|| self.exec(sql::RESEND_REFUSED, &[text(bearer.user_id), session.clone()])).map_err(|e| classify(what, &e))?;
        Ok(match first_row(&why) {
            Some([Value::Integer(1), Value::Integer(1)]) => Resend::AlreadyVerified,
            _ => Resend::CallerRevoked,
        })
    }

    fn insert_event(&self, event: &Event) -> Result<(), Unavailable> {
        let params = [text(&event.id), text(event.name), json(event)];
        self.with_schema("storing an event", || self.exec(sql::INSERT_EVENT, &params).map(drop))
    }

    /// In one write transaction: the writer lock serialises migrators.
    ///
    /// When many requests find the schema missing at once, one migrates and
    /// the rest must not queue for the writer lock behind it (each would
    /// hold it for a few calls only to find the work done, and on a busy
    /// host those calls wait for a thread). So a migrator asks for the lock
    /// without SQLite's busy wait, and while it is taken reads the version
    /// (no lock needed) until the schema is current or the lock is free.
    /// Write-ahead logging is switched on first (it cannot change inside a
    /// transaction); a database that cannot have it (in memory, a
    /// libSQL server) keeps its own mode.
    fn migrate(&self) -> Result<Vec<i32>, Unavailable> {
        // Also when the schema is current, so that an explicit migration
        // retries a switch that failed the first time.
        self.switch_to_wal();
        if self.schema_version()? >= migrations::latest_version() {
            return Ok(Vec::new());
        }
        let started = std::time::Instant::now();
        let mut attempt = 0;
        loop {
            let _ = self.exec(sql::BUSY_TIMEOUT_OFF, &[]);
            let began = self.exec(sql::BEGIN_IMMEDIATE, &[]);
            let _ = self.exec(sql::BUSY_TIMEOUT_DEFAULT, &[]);
            match began {
                Ok(_) => break,
                Err(err) if is_busy_error(&err) && started.elapsed() < MIGRATION_BUSY_BUDGET => {
                    std::thread::sleep(busy_pause(attempt.min(2)));
                    attempt += 1;
                    if self.schema_version()? >= migrations::latest_version() {
                        return Ok(Vec::new());
                    }
                }
                Err(err) => return Err(classify("starting migrations", &err)),
            }
        }
        self.in_transaction(|| {
            self.exec(sql::CREATE_VERSIONS, &[])?;
            let current = version_of(&self.exec(sql::CURRENT_VERSION, &[])?);
            let mut applied = Vec::new();
            for migration in migrations::pending(migrations::SQLITE, current) {
                for statement in migration.statements() {
                    self.exec(&statement, &[])?;
                }
                self.exec(sql::RECORD_VERSION, &[Value::Integer(migration.version.into()), text(migration.name)])?;
                applied.push(migration.version);
            }
            Ok(applied)
        })
        .map_err(|err| classify("applying migrations", &err))
    }

    fn begin_batch(&self) -> Result<bool, Unavailable> {
        let params = [text(self.lease_holder()), Value::Integer(LEASE_SECONDS)];
        let result = self.with_schema("taking the publishing lease", || self.exec(sql::TAKE_PUBLISHER_LEASE, &params))?;
        Ok(!result.rows.is_empty())
    }

    fn claim_pending(&self, limit: i64) -> Result<Vec<PendingEvent>, Unavailable> {
        let result = self.with_schema("claiming outbox rows", || self.exec(sql::CLAIM_PENDING, &[Value::Integer(limit)]))?;
        Ok(result
            .rows
            .iter()
            .filter_map(|row| match row.values.as_slice() {
                [Value::Integer(seq), Value::Text(id), Value::Text(name), Value::Text(body), Value::Integer(created)] => {
                    Some(PendingEvent { seq: *seq, id: id.clone(), name: name.clone(), body: body.clone(), created_epoch: *created })
                }
                _ => None,
            })
            .collect())
    }

    /// Marks the batch, then gives the lease back; a publisher turned away
    /// while this one held it left its rows, which this one then sees
    /// waiting. (No transaction spans the two: a crash between them leaves
    /// a marked batch and a lease that expires.)
    fn finish_batch(&self, outcome: &BatchOutcome<'_>) -> Result<bool, Unavailable> {
        let params = [seq_list(outcome.confirmed), seq_list(outcome.claimed), outcome.error.map_or(Value::Null, text)];
        let last = outcome.claimed.iter().copied().max().unwrap_or(0);
        let marked = self.retrying(|| self.exec(sql::MARK_BATCH, &params));
        if let Err(err) = marked {
            self.cancel_batch();
            return Err(classify("marking outbox rows", &err));
        }
        self.retrying(|| self.release_lease(last)).map_err(|err| classify("giving back the publishing lease", &err))
    }

    fn cancel_batch(&self) {
        if let Err(err) = self.retrying(|| self.release_lease(i64::MAX)) {
            eprintln!("auth: giving back the publishing lease failed (it expires in {LEASE_SECONDS} s): {err:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_and_schema_errors_are_recognised_by_sqlites_words() {
        assert!(is_busy_error(&Error::Io("database is locked".into())));
        assert!(is_busy_error(&Error::Io("database table is locked: user".into())));
        assert!(!is_busy_error(&Error::Io("UNIQUE constraint failed: user.username".into())));
        assert!(!is_busy_error(&Error::AccessDenied));
        assert!(is_schema_missing(&Error::Io("no such table: auth_outbox".into())));
        assert!(is_schema_missing(&Error::Io("no such column: failed_login_count".into())));
        assert!(!is_schema_missing(&Error::Io("database is locked".into())));
    }

    #[test]
    fn errors_map_to_short_codes() {
        assert_eq!(classify("t", &Error::AccessDenied), Unavailable::DatabaseNotAllowed);
        assert_eq!(classify("t", &Error::NoSuchDatabase), Unavailable::DatabaseNotAllowed);
        assert_eq!(classify("t", &Error::Io("database is locked".into())), Unavailable::DatabaseBusy);
        assert_eq!(classify("t", &Error::Io("unable to open database file".into())), Unavailable::DatabaseUnreachable);
        assert_eq!(classify("t", &Error::Io("disk I/O error".into())), Unavailable::DatabaseError);
    }

    #[test]
    fn busy_pauses_grow_and_stay_bounded() {
        for attempt in 0..4 {
            let pause = busy_pause(attempt).as_millis() as u64;
            let base = 10u64 << (2 * attempt);
            assert!((base..=2 * base).contains(&pause), "attempt {attempt}: {pause} ms");
        }
        assert!(busy_pause(99) <= Duration::from_millis(2 * 2560));
    }

    #[test]
    fn sequence_lists_are_json_arrays() {
        assert!(matches!(seq_list(&[3, 1, 2]), Value::Text(t) if t == "[3,1,2]"));
        assert!(matches!(seq_list(&[]), Value::Text(t) if t == "[]"));
    }
}
