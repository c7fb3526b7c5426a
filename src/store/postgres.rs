//! The PostgreSQL store: every unit of work through `spin:postgres@4.0.0`,
//! one statement per unit where PostgreSQL allows (see [`super::postgres_sql`]),
//! so each endpoint costs as few round trips as possible.

use super::postgres_sql as sql;
use super::{
    Backlog, BatchOutcome, Bearer, Ended, IssuedToken, LogoutScope, NewSession, NewUser, PendingEvent, Refresh, RefreshAttempt, RefreshTerms,
    Registration, LoginLookup, Resend, SessionInfo, SessionLookup, Store, Throttle, ThrottleTerms, User,
};
use crate::client_throttle::{Admission, ClientTerms};
use crate::config::DatabaseUrl;
use crate::errors::Unavailable;
use crate::signing_keys::SigningAlg;
use crate::events::Event;
use crate::migrations;
use spin_sdk::pg4::{Connection, DbValue, ParameterValue, PgError, QueryError, RowSet};

/// Key of the transaction-scoped advisory lock held while publishing.
const PUBLISH_LOCK_KEY: i64 = 0x6175_7468_6f75_74; // "authout"
/// Key of the transaction-scoped advisory lock that serialises migrations.
const MIGRATION_LOCK_KEY: i64 = 0x6175_7468_6d69_67; // "authmig"
/// Serialises first keys: the advisory lock a store's first signing key
/// is added under.
const SIGNING_KEY_LOCK_KEY: i64 = 0x6175_7468_6b65_79; // "authkey"

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

/// Whether a result's first row starts with `true`.
fn flag(rows: &RowSet) -> bool {
    matches!(rows.rows.first().and_then(|r| r.first()), Some(DbValue::Boolean(true)))
}

/// Whether an error means the schema is missing a table, column or
/// function.
fn is_schema_missing(err: &PgError) -> bool {
    matches!(err, PgError::QueryFailed(QueryError::DbError(e)) if ["42P01", "42703", "42883"].contains(&e.code.as_str()))
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

/// An open PostgreSQL connection.
pub struct PgStore {
    url: DatabaseUrl,
    conn: Connection,
}

impl PgStore {
    pub fn open(url: DatabaseUrl) -> Result<PgStore, Unavailable> {
        match Connection::open(url.expose()) {
            Ok(conn) => Ok(PgStore { url, conn }),
            Err(err) => Err(classify(&url, "opening the database connection", &err)),
        }
    }

    /// Runs a statement whose one row starts with a boolean, and reads it.
    fn first_flag(&self, what: &str, statement: &str, params: &[ParameterValue]) -> Result<bool, Unavailable> {
        let rows = self.with_schema(what, |c| c.query(statement, params))?;
        Ok(flag(&rows))
    }

    /// Runs `op`; when it fails because the schema is missing, applies the
    /// migrations and tries once more.
    fn with_schema<T>(&self, what: &str, op: impl Fn(&Connection) -> Result<T, PgError>) -> Result<T, Unavailable> {
        match op(&self.conn) {
            Err(err) if is_schema_missing(&err) => {
                eprintln!("auth: {what}: schema is missing a table, column or function; applying migrations");
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

    /// Runs `work` in a transaction of its own, so that statements after a
    /// lock it takes see whatever committed while it waited; a failure
    /// rolls it back, so that [`Self::with_schema`] can migrate and run it
    /// once more.
    fn in_transaction<T>(&self, what: &str, work: impl Fn(&Connection) -> Result<T, PgError>) -> Result<T, Unavailable> {
        self.with_schema(what, |c| {
            c.execute(sql::BEGIN, &[])?;
            let result = work(c).and_then(|value| c.execute(sql::COMMIT, &[]).map(|_| value));
            if result.is_err() {
                self.rollback();
            }
            result
        })
    }

    fn run(&self, what: &str, statement: &str, params: &[ParameterValue]) -> Result<(), Unavailable> {
        self.conn.execute(statement, params).map(drop).map_err(|err| classify(&self.url, what, &err))
    }

    fn rollback(&self) {
        let _ = self.conn.execute(sql::ROLLBACK, &[]);
    }
}

impl Store for PgStore {
    fn now(&self) -> Result<String, Unavailable> {
        self.first_text("reading the database time", sql::NOW)
    }

    fn ping(&self) -> Result<(), Unavailable> {
        self.conn.query(sql::PING, &[]).map(drop).map_err(|err| classify(&self.url, "pinging the database", &err))
    }

    fn backlog(&self) -> Result<Backlog, Unavailable> {
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

    fn find_login_user(&self, login: &str, signing_alg: SigningAlg, terms: ThrottleTerms, client: Option<&ClientTerms>)
        -> Result<LoginLookup, Unavailable> {
        let threshold = ParameterValue::Int32(i32::try_from(terms.threshold).unwrap_or(i32::MAX));
        let mut params = vec![
            text(login),
            text(&crate::accounts::fold_case(login)),
            threshold,
            ParameterValue::Int64(terms.base_seconds),
            ParameterValue::Int64(terms.max_seconds),
        ];
        params.extend(client_params(client));
        let statement = with_signing_key(&mut params, signing_alg, sql::FIND_LOGIN_USER, sql::FIND_LOGIN_USER_AND_KEY);
        let rows = self.with_schema("looking up a login", |c| c.query(statement, &params))?;
        let row = rows.rows.first().ok_or(Unavailable::DatabaseError)?;
        if let Some(refused @ Admission::Refused { .. }) = admission(row, 10, client) {
            return Ok(LoginLookup { client: refused, ..LoginLookup::default() });
        }
        let throttle = match (row.get(5), row.get(6), row.get(7)) {
            (Some(DbValue::Boolean(refused)), Some(DbValue::Int64(failures)), retry) => Throttle {
                refused: *refused,
                failures: *failures,
                retry_after: match retry {
                    Some(DbValue::Int64(seconds)) => Some(*seconds),
                    _ => None,
                },
                locked_until: cell_text(row.get(8)),
            },
            other => {
                eprintln!("auth: a login reservation returned an unexpected row: {other:?}");
                return Err(Unavailable::DatabaseError);
            }
        };
        let key = cell_text(row.get(4));
        let email_verified = matches!(row.get(9), Some(DbValue::Boolean(true)));
        Ok(LoginLookup { client: Admission::Admitted, throttle, user: first_user(&rows, true).map(|user| (user, key)), email_verified })
    }

    fn find_user(&self, id: &str) -> Result<Option<User>, Unavailable> {
        let rows = self.with_schema("looking up a user", |c| c.query(sql::FIND_USER, &[text(id)]))?;
        Ok(first_user(&rows, false))
    }

    fn find_session_user(&self, user_id: &str, session_id: &str) -> Result<Option<(User, bool)>, Unavailable> {
        let rows = self.with_schema("looking up a session", |c| c.query(sql::FIND_SESSION_USER, &[text(user_id), text(session_id)]))?;
        let live = matches!(rows.rows.first().and_then(|r| r.get(3)), Some(DbValue::Boolean(true)));
        Ok(first_user(&rows, false).map(|user| (user, live)))
    }

    fn find_session_user_and_key(&self, user_id: &str, session_id: &str, kid: &str) -> Result<SessionLookup, Unavailable> {
        let params = [text(user_id), text(session_id), text(kid)];
        let rows = self.with_schema("looking up a session", |c| c.query(sql::FIND_SESSION_USER_AND_KEY, &params))?;
        let row = rows.rows.first();
        Ok(SessionLookup {
            user: first_user(&rows, false),
            live: matches!(row.and_then(|r| r.get(3)), Some(DbValue::Boolean(true))),
            verifying_key: cell_text(row.and_then(|r| r.get(4))),
        })
    }

    fn verifying_key(&self, kid: &str) -> Result<Option<String>, Unavailable> {
        let rows = self.with_schema("looking up a signing key", |c| c.query(sql::VERIFYING_KEY, &[text(kid)]))?;
        Ok(cell_text(rows.rows.first().and_then(|r| r.first())))
    }

    fn published_keys(&self) -> Result<Vec<String>, Unavailable> {
        let rows = self.with_schema("listing signing keys", |c| c.query(sql::PUBLISHED_KEYS, &[]))?;
        Ok(rows.rows.iter().filter_map(|r| cell_text(r.first())).collect())
    }

    fn add_signing_key(&self, key: &crate::signing_keys::NewKey, activation_seconds: i64, grace_seconds: i64) -> Result<(), Unavailable> {
        let params = super::signing_key_params(key, [activation_seconds, grace_seconds], text, ParameterValue::Int64);
        self.with_schema("adding a signing key", |c| c.execute(sql::ADD_SIGNING_KEY, &params)).map(drop)
    }

    /// In a transaction of its own under an advisory lock: the statement
    /// that decides runs after any racing instance's key has committed.
    fn add_first_signing_key(&self, key: &crate::signing_keys::NewKey, grace_seconds: i64) -> Result<Option<String>, Unavailable> {
        let params = super::signing_key_params(key, [0, grace_seconds], text, ParameterValue::Int64);
        self.in_transaction("adding a first signing key", |c| {
            c.execute(sql::ADVISORY_XACT_LOCK, &[ParameterValue::Int64(SIGNING_KEY_LOCK_KEY)])?;
            let rows = c.query(sql::ADD_FIRST_SIGNING_KEY, &params)?;
            Ok(match rows.rows.first().and_then(|r| r.first()) {
                Some(DbValue::Str(signing)) => Some(signing.clone()),
                _ => None,
            })
        })
    }

    fn login_succeeded(&self, user_id: &str, verified: &str, new_hash: Option<&str>, session: &NewSession<'_>, event: &Event) -> Result<bool, Unavailable> {
        let hash = new_hash.map_or(ParameterValue::DbNull, text);
        let optional = |value: Option<&str>| value.map_or(ParameterValue::DbNull, text);
        let params = [
            text(user_id),
            hash,
            text(&event.id),
            text(event.name),
            json(event),
            text(session.id),
            ParameterValue::Int64(session.idle_seconds),
            ParameterValue::Int64(session.max_seconds),
            optional(session.user_agent),
            optional(session.ip),
            text(&crate::accounts::fold_case(session.login)),
            text(verified),
        ];
        let rows = self.with_schema("recording a login", |c| c.execute(sql::LOGIN_SUCCEEDED, &params))?;
        Ok(rows == 1)
    }

    fn refresh(&self, attempt: &RefreshAttempt<'_>, terms: RefreshTerms) -> Result<Refresh, Unavailable> {
        let RefreshAttempt { session_id, generation, reuse_event_id, signing_alg, client } = *attempt;
        let mut params = vec![
            text(session_id),
            ParameterValue::Int64(generation.into()),
            ParameterValue::Int64(terms.idle_seconds),
            ParameterValue::Int64(terms.grace_seconds),
            text(reuse_event_id),
        ];
        params.extend(client_params(client));
        let statement = with_signing_key(&mut params, signing_alg, sql::REFRESH, sql::REFRESH_AND_KEY);
        let rows = self.with_schema("refreshing a session", |c| c.query(statement, &params))?;
        let Some(row) = rows.rows.first() else { return Ok(Refresh::Invalid) };
        if let Some(Admission::Refused { retry_after }) = admission(row, 6, client) {
            return Ok(Refresh::Throttled { retry_after });
        }
        Ok(match (row.first(), row.get(1), user_at(row, 2)) {
            (Some(DbValue::Str(verdict)), Some(DbValue::Int64(newest)), Some(user)) if verdict == "renewed" => {
                match u32::try_from(*newest) {
                    Ok(generation) => Refresh::Renewed { generation, user, signing_key: cell_text(row.get(5)) },
                    Err(_) => Refresh::Invalid,
                }
            }
            (Some(DbValue::Str(verdict)), ..) if verdict == "reused" => Refresh::Reused,
            _ => Refresh::Invalid,
        })
    }

    fn logout(&self, bearer: Bearer<'_>, scope: LogoutScope, event: &Event) -> Result<Ended, Unavailable> {
        let params = [
            text(bearer.user_id),
            bearer.session_id.map_or(ParameterValue::DbNull, text),
            text(scope.as_str()),
            text(&event.id),
            text(event.name),
            json(event),
        ];
        let rows = self.with_schema("logging out", |c| c.query(sql::LOGOUT, &params))?;
        Ok(match rows.rows.first().and_then(|r| r.first()) {
            Some(DbValue::Boolean(true)) => Ended::Done,
            _ => Ended::CallerRevoked,
        })
    }

    fn end_session(&self, bearer: Bearer<'_>, session_id: &str, event: &Event) -> Result<Ended, Unavailable> {
        let params = [
            text(bearer.user_id),
            bearer.session_id.map_or(ParameterValue::DbNull, text),
            text(session_id),
            text(&event.id),
            text(event.name),
            json(event),
        ];
        let rows = self.with_schema("ending a session", |c| c.query(sql::END_SESSION, &params))?;
        Ok(match rows.rows.first().map(|r| (r.first(), r.get(1))) {
            Some((Some(DbValue::Boolean(true)), Some(DbValue::Boolean(true)))) => Ended::Done,
            Some((Some(DbValue::Boolean(true)), _)) => Ended::NotFound,
            _ => Ended::CallerRevoked,
        })
    }

    fn list_sessions(&self, bearer: Bearer<'_>) -> Result<Option<Vec<SessionInfo>>, Unavailable> {
        let params = [text(bearer.user_id), bearer.session_id.map_or(ParameterValue::DbNull, text)];
        let rows = self.with_schema("listing sessions", |c| c.query(sql::LIST_SESSIONS, &params))?;
        if !matches!(rows.rows.first().and_then(|r| r.first()), Some(DbValue::Boolean(true))) {
            return Ok(None);
        }
        Ok(Some(
            rows.rows
                .iter()
                .filter_map(|row| {
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

    /// The account's row first, in a transaction: the statement that ends
    /// the other sessions then sees every login that committed before.
    fn change_password(&self, bearer: Bearer<'_>, verified: &str, new_hash: &str, login: &str, event: &Event) -> Result<bool, Unavailable> {
        let params = super::password_change_params(bearer, verified, new_hash, login, event, ParameterValue::DbNull, text, json);
        self.in_transaction("changing a password", |c| {
            c.execute(sql::LOCK_USER, &[text(bearer.user_id)])?;
            Ok(flag(&c.query(sql::CHANGE_PASSWORD, &params)?))
        })
    }

    fn login_failed(&self, user_id: Option<&str>, event: &Event) -> Result<(), Unavailable> {
        let params = [text(user_id.unwrap_or("")), text(&event.id), text(event.name), json(event)];
        self.with_schema("recording a failed login", |c| c.execute(sql::LOGIN_FAILED, &params)).map(drop)
    }

    fn register(&self, user: &NewUser<'_>, event: &Event, verification: &IssuedToken<'_>) -> Result<Registration, Unavailable> {
        let params = super::registration_params(user, event, verification, text, json);
        let rows = self.with_schema("registering a user", |c| c.query(sql::REGISTER, &params))?;
        let row = rows.rows.first().ok_or(Unavailable::DatabaseError)?;
        let taken = |column: usize| matches!(row.get(column), Some(DbValue::Boolean(true)));
        Ok(match row.first() {
            Some(DbValue::Int32(1)) => Registration::Created,
            _ if taken(1) => Registration::UsernameTaken,
            _ if taken(2) => Registration::EmailTaken,
            // A racing registration won; a new snapshot shows which clash.
            _ => match self.first_flag("registering a user", sql::USERNAME_TAKEN, &[text(user.username)])? {
                true => Registration::UsernameTaken,
                false => Registration::EmailTaken,
            },
        })
    }

    fn take_client_token(&self, client: &ClientTerms) -> Result<Admission, Unavailable> {
        let params = client_params(Some(client));
        let rows = self.with_schema("taking a client's token", |c| c.query(sql::TAKE_CLIENT_TOKEN, &params))?;
        let row = rows.rows.first().ok_or(Unavailable::DatabaseError)?;
        admission(row, 0, Some(client)).ok_or(Unavailable::DatabaseError)
    }

    fn purge_throttles(&self, bucket_idle_seconds: i64) -> Result<(), Unavailable> {
        let params = [ParameterValue::Int64(bucket_idle_seconds)];
        self.with_schema("purging idle throttle rows", |c| c.execute(sql::PURGE_THROTTLES, &params)).map(drop)
    }

    fn refund_attempt(&self, login: &str) -> Result<(), Unavailable> {
        let params = [text(&crate::accounts::fold_case(login))];
        self.with_schema("refunding a login attempt", |c| c.execute(sql::REFUND_ATTEMPT, &params)).map(drop)
    }

    fn request_password_reset(&self, email: &str, token: &IssuedToken<'_>) -> Result<bool, Unavailable> {
        let params = [text(email), text(token.hash), text(token.expires_at), text(&token.event.id), text(token.event.name), json(token.event)];
        self.first_flag("requesting a password reset", sql::REQUEST_PASSWORD_RESET, &params)
    }

    /// As [`Store::change_password`]: the token's account row first, in a
    /// transaction, so that every session ends, a login's that committed
    /// while the reset waited included.
    fn reset_password(&self, token_hash: &str, new_hash: &str, event: &Event) -> Result<bool, Unavailable> {
        let params = [text(token_hash), text(new_hash), text(&event.id), text(event.name), json(event)];
        self.in_transaction("resetting a password", |c| {
            c.execute(sql::LOCK_TOKEN_USER, &[text(token_hash)])?;
            Ok(flag(&c.query(sql::RESET_PASSWORD, &params)?))
        })
    }

    fn verify_email(&self, token_hash: &str, event: &Event) -> Result<bool, Unavailable> {
        let params = [text(token_hash), text(&event.id), text(event.name), json(event)];
        self.first_flag("verifying an e-mail address", sql::VERIFY_EMAIL, &params)
    }

    fn resend_verification(&self, bearer: Bearer<'_>, token: &IssuedToken<'_>) -> Result<Resend, Unavailable> {
        let params = [
            text(bearer.user_id),
            bearer.session_id.map_or(ParameterValue::DbNull, text),
            text(token.hash),
            text(token.expires_at),
            text(&token.event.id),
            text(token.event.name),
            json(token.event),
        ];
        let rows = self.with_schema("issuing a verification token", |c| c.query(sql::RESEND_VERIFICATION, &params))?;
        let flag = |i: usize| matches!(rows.rows.first().and_then(|r| r.get(i)), Some(DbValue::Boolean(true)));
        Ok(match (flag(0), flag(1), flag(2)) {
            (true, true, _) => Resend::Sent,
            (true, false, true) => Resend::AlreadyVerified,
            _ => Resend::CallerRevoked,
        })
    }

    fn insert_event(&self, event: &Event) -> Result<(), Unavailable> {
        let params = [text(&event.id), text(event.name), json(event)];
        self.with_schema("storing an event", |c| c.execute(sql::INSERT_EVENT, &params)).map(drop)
    }

    /// In one transaction under an advisory lock, so that any number of
    /// instances can migrate at once.
    fn migrate(&self) -> Result<Vec<i32>, Unavailable> {
        self.run("starting migrations", sql::BEGIN, &[])?;
        let result = (|| {
            self.run("taking the migration lock", sql::ADVISORY_XACT_LOCK, &[ParameterValue::Int64(MIGRATION_LOCK_KEY)])?;
            self.run("creating the migrations table", sql::CREATE_VERSIONS, &[])?;
            let current: i32 = self
                .first_text("reading the schema version", sql::CURRENT_VERSION)?
                .parse()
                .map_err(|_| Unavailable::DatabaseError)?;
            let mut applied = Vec::new();
            for migration in migrations::pending(migrations::POSTGRES, current) {
                for statement in migration.statements() {
                    self.run(migration.name, &statement, &[])?;
                }
                let record = [ParameterValue::Int32(migration.version), text(migration.name)];
                self.run("recording a migration", sql::RECORD_VERSION, &record)?;
                applied.push(migration.version);
            }
            self.run("committing migrations", sql::COMMIT, &[])?;
            Ok(applied)
        })();
        if result.is_err() {
            self.rollback();
        }
        result
    }

    /// Opens the batch's transaction and waits for any other publisher to
    /// finish: the turn is always this caller's in the end.
    fn begin_batch(&self) -> Result<bool, Unavailable> {
        self.run("starting a transaction", sql::BEGIN, &[])?;
        let lock = [ParameterValue::Int64(PUBLISH_LOCK_KEY)];
        self.run("taking the publishing lock", sql::ADVISORY_XACT_LOCK, &lock).inspect_err(|_| self.rollback())?;
        Ok(true)
    }

    fn claim_pending(&self, limit: i64) -> Result<Vec<PendingEvent>, Unavailable> {
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

    /// Marks the batch and commits; publishers waiting on the lock take
    /// whatever is newer, so this one never needs to look for more.
    fn finish_batch(&self, outcome: &BatchOutcome<'_>) -> Result<bool, Unavailable> {
        let seqs = |s: &[i64]| ParameterValue::ArrayInt64(s.iter().map(|n| Some(*n)).collect());
        let params = [seqs(outcome.confirmed), seqs(outcome.claimed), outcome.error.map_or(ParameterValue::DbNull, text)];
        self.run("marking outbox rows", sql::MARK_BATCH, &params)
            .and_then(|()| self.run("committing", sql::COMMIT, &[]))
            .inspect_err(|_| self.rollback())?;
        Ok(false)
    }

    fn cancel_batch(&self) {
        self.rollback();
    }
}

/// The statement that signs with `signing_alg`: `keyed`, whose last
/// parameter (added here) is the algorithm, for a stored key pair; `plain`
/// for HS256, whose key is `secret_key`.
fn with_signing_key(params: &mut Vec<ParameterValue>, signing_alg: SigningAlg, plain: &'static str, keyed: &'static str) -> &'static str {
    if !signing_alg.is_asymmetric() {
        return plain;
    }
    params.push(text(signing_alg.as_str()));
    keyed
}

/// The parameters of the client's bucket: address, burst, rate (all null
/// when the request is not throttled by client).
fn client_params(client: Option<&ClientTerms>) -> [ParameterValue; 3] {
    match client {
        Some(c) => [text(&c.client), ParameterValue::Floating64(c.burst), ParameterValue::Floating64(c.per_second)],
        None => [ParameterValue::DbNull, ParameterValue::DbNull, ParameterValue::DbNull],
    }
}

/// What the bucket said, from the admitted flag at column `at` and the
/// tokens left after it; `None` for a row that is neither.
fn admission(row: &[DbValue], at: usize, client: Option<&ClientTerms>) -> Option<Admission> {
    match (row.get(at), row.get(at + 1), client) {
        (Some(DbValue::Boolean(true)), ..) => Some(Admission::Admitted),
        (Some(DbValue::Boolean(false)), Some(DbValue::Floating64(tokens)), Some(c)) => {
            Some(Admission::Refused { retry_after: c.retry_after(*tokens) })
        }
        other => {
            eprintln!("auth: a client bucket returned an unexpected row: {:?}", (other.0, other.1));
            None
        }
    }
}

/// The user in the first row, or `None` when the row is the join's nulls.
fn first_user(rows: &RowSet, with_password: bool) -> Option<User> {
    let row = rows.rows.first()?;
    Some(User { password: if with_password { cell_text(row.get(3)) } else { None }, ..user_at(row, 0)? })
}

/// The user whose id, username and e-mail start at column `at`.
fn user_at(row: &[DbValue], at: usize) -> Option<User> {
    Some(User {
        id: cell_text(row.get(at))?,
        username: cell_text(row.get(at + 1))?,
        email: cell_text(row.get(at + 2))?,
        password: None,
    })
}
