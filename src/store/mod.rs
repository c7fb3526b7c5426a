//! The store interface: the units of work the handlers and the outbox need,
//! each one atomic, with two implementations behind it. `database_url` set
//! selects PostgreSQL through `spin:postgres@4.0.0` ([`postgres`]); empty,
//! Spin's SQLite database `default` through `spin:sqlite@3.0.0`
//! ([`sqlite`]). Handlers and delivery are written once against [`Store`]
//! and never learn which one they have.

pub mod postgres;
mod postgres_sql;
pub mod sqlite;
mod sqlite_sql;

use crate::client_throttle::{Admission, ClientTerms};
use crate::config::StoreConfig;
use crate::errors::Unavailable;
use crate::signing_keys::SigningAlg;
use crate::events::Event;

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

/// A registration's parameters in the order both dialects' statements take
/// them: the account, its event, then its e-mail verification token.
fn registration_params<V>(
    user: &NewUser<'_>,
    event: &Event,
    verification: &IssuedToken<'_>,
    text: impl Fn(&str) -> V,
    json: impl Fn(&Event) -> V,
) -> [V; 12] {
    [
        text(user.id),
        text(user.username),
        text(user.password_hash),
        text(user.email),
        text(&event.id),
        text(event.name),
        json(event),
        text(verification.hash),
        text(verification.expires_at),
        text(&verification.event.id),
        text(verification.event.name),
        json(verification.event),
    ]
}

/// A single-use token on its way to a user's address (src/user_tokens.rs):
/// the hash the store keeps, its end (ISO-8601 UTC) and the event that
/// carries the token itself.
#[derive(Debug, Clone, Copy)]
pub struct IssuedToken<'a> {
    pub hash: &'a str,
    pub expires_at: &'a str,
    pub event: &'a Event,
}

/// What asking for a new e-mail verification token achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resend {
    /// Issued, and its event queued.
    Sent,
    /// The address is verified already: nothing was issued.
    AlreadyVerified,
    /// The bearer's session has ended, or its user is gone.
    CallerRevoked,
}

/// A password change's parameters in the order both dialects' statements
/// take them: the bearer, the new hash, the folded login name, the event,
/// and last the hash the current password was checked against.
fn password_change_params<V>(
    bearer: Bearer<'_>,
    verified: &str,
    new_hash: &str,
    login: &str,
    event: &Event,
    null: V,
    text: impl Fn(&str) -> V,
    json: impl Fn(&Event) -> V,
) -> [V; 8] {
    [
        text(bearer.user_id),
        bearer.session_id.map_or(null, &text),
        text(new_hash),
        text(&crate::accounts::fold_case(login)),
        text(&event.id),
        text(event.name),
        json(event),
        text(verified),
    ]
}

/// A new signing key's parameters in the order both dialects' statements
/// take them: the key, then its activation delay and its predecessors'
/// grace, in seconds.
fn signing_key_params<V>(key: &crate::signing_keys::NewKey, seconds: [i64; 2], text: impl Fn(&str) -> V, int: impl Fn(i64) -> V) -> [V; 6] {
    [text(&key.kid), text(key.alg.as_str()), text(&key.public_jwk), text(&key.sealed_private), int(seconds[0]), int(seconds[1])]
}

/// The session a login opens.
pub struct NewSession<'a> {
    /// The login name as sent, whose throttle reservation the login refunds.
    pub login: &'a str,
    pub id: &'a str,
    pub idle_seconds: i64,
    pub max_seconds: i64,
    pub user_agent: Option<&'a str>,
    pub ip: Option<&'a str>,
}

/// How login throttling treats a login name (DESIGN.md §7, policy).
#[derive(Debug, Clone, Copy)]
pub struct ThrottleTerms {
    /// Failures that lock the name.
    pub threshold: i64,
    /// The first lock's length; each further failure doubles it...
    pub base_seconds: i64,
    /// ...up to this.
    pub max_seconds: i64,
}

/// What a login attempt's reservation found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Throttle {
    /// The name was locked: nothing may be hashed, 429.
    pub refused: bool,
    /// Failures counted for the name, this attempt's reservation included.
    pub failures: i64,
    /// Seconds until the lock ends, while the name is locked.
    pub retry_after: Option<i64>,
    /// When the lock ends, ISO-8601 UTC.
    pub locked_until: Option<String>,
}

/// The login lookup: the attempt's reservation, and the account with the
/// key that signs (see [`Store::find_login_user`]).
#[derive(Debug, Clone, Default)]
pub struct LoginLookup {
    /// The client's bucket, asked first: refused, nothing else was done.
    pub client: Admission,
    pub throttle: Throttle,
    pub user: Option<(User, Option<String>)>,
    /// Whether the account's e-mail address is verified.
    pub email_verified: bool,
}

/// What a refresh token presented to [`Store::refresh`] turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// The session is live and its newest token is of `generation`: this
    /// refresh rotated to it, or a concurrent one did within the grace
    /// window. Either way the answer is that token.
    Renewed { generation: u32, user: User, signing_key: Option<String> },
    /// An older token was replayed: the session is revoked now and
    /// `RefreshTokenReused` is queued.
    Reused,
    /// No such live session, or a token it never reached.
    Invalid,
    /// The client's bucket was empty: nothing was looked at; 429 with
    /// `Retry-After` seconds.
    Throttled { retry_after: u64 },
}

/// A refresh token presented: its session and generation, the id the
/// `RefreshTokenReused` event gets if it turns out replayed, the algorithm
/// whose signing key comes along, and the client's bucket to ask first.
#[derive(Debug, Clone, Copy)]
pub struct RefreshAttempt<'a> {
    pub session_id: &'a str,
    pub generation: u32,
    pub reuse_event_id: &'a str,
    pub signing_alg: SigningAlg,
    pub client: Option<&'a ClientTerms>,
}

/// How refreshes treat a session.
#[derive(Debug, Clone, Copy)]
pub struct RefreshTerms {
    pub idle_seconds: i64,
    pub grace_seconds: i64,
}

/// What `/profile`'s one statement found for a token signed by a stored key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionLookup {
    pub user: Option<User>,
    /// Whether the token's session is live.
    pub live: bool,
    /// The key the token names, as `"<alg> <public JWK>"`.
    pub verifying_key: Option<String>,
}

/// Which sessions a logout ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoutScope {
    /// The caller's session.
    Local,
    /// All the user's sessions but the caller's.
    Others,
    /// All the user's sessions.
    Global,
}

impl LogoutScope {
    pub fn parse(text: &str) -> Option<LogoutScope> {
        match text {
            "local" => Some(LogoutScope::Local),
            "others" => Some(LogoutScope::Others),
            "global" => Some(LogoutScope::Global),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LogoutScope::Local => "local",
            LogoutScope::Others => "others",
            LogoutScope::Global => "global",
        }
    }
}

/// The bearer of an access token: its user, and its session when the
/// token names one (the Flask service's do not).
#[derive(Debug, Clone, Copy)]
pub struct Bearer<'a> {
    pub user_id: &'a str,
    pub session_id: Option<&'a str>,
}

/// What ending sessions achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Done, and the event is queued.
    Done,
    /// The caller's own session is no longer live: nothing was done.
    CallerRevoked,
    /// The session to end is not a live session of the caller's.
    NotFound,
}

/// One live session, as `GET /sessions` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub id: String,
    pub created_at: String,
    pub last_used_at: String,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// The outbox backlog, for health.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backlog {
    pub pending: i64,
    pub oldest_seconds: f64,
}

/// An outbox row claimed for publishing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEvent {
    pub seq: i64,
    pub id: String,
    pub name: String,
    pub body: String,
    pub created_epoch: i64,
}

/// What publishing a claimed batch achieved, to be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchOutcome<'a> {
    /// Sequence numbers the broker confirmed.
    pub confirmed: &'a [i64],
    /// Every sequence number of the batch.
    pub claimed: &'a [i64],
    /// Why the rest were held back.
    pub error: Option<&'a str>,
}

/// The units of work of the service. Each is atomic: what belongs together
/// (a login and its event, say) commits together or not at all.
pub trait Store {
    /// The database clock, ISO-8601 UTC.
    fn now(&self) -> Result<String, Unavailable>;
    /// Proves the database answers and the schema is there (migrating a
    /// new database), in the cheapest statement that does.
    fn ping(&self) -> Result<(), Unavailable>;
    /// The outbox backlog; also proves the database answers.
    fn backlog(&self) -> Result<Backlog, Unavailable>;
    /// A login attempt's first statement: reserves the attempt against the
    /// (case-folded) login name under `terms`, atomically, and finds the
    /// account it refers to (username, or e-mail in any case; a username
    /// match wins) with the key that signs for algorithm `signing_alg` as
    /// `"<kid> <sealed private half>"` (src/signing_keys.rs).
    /// With `client`, the client's bucket is asked first (see
    /// [`Store::take_client_token`]), in the same statement where the
    /// dialect can.
    fn find_login_user(&self, login: &str, signing_alg: SigningAlg, terms: ThrottleTerms, client: Option<&ClientTerms>)
        -> Result<LoginLookup, Unavailable>;
    fn find_user(&self, id: &str) -> Result<Option<User>, Unavailable>;
    /// The user of an access token that names session `session_id`, and
    /// whether that session is live (not revoked, not past its end).
    fn find_session_user(&self, user_id: &str, session_id: &str) -> Result<Option<(User, bool)>, Unavailable>;
    /// The same for a token signed by stored key `kid`, with that key, in
    /// the same statement.
    fn find_session_user_and_key(&self, user_id: &str, session_id: &str, kid: &str) -> Result<SessionLookup, Unavailable>;
    /// Stored key `kid` as `"<alg> <public JWK>"`, while it verifies.
    fn verifying_key(&self, kid: &str) -> Result<Option<String>, Unavailable>;
    /// Every key that verifies, oldest first, as `"<alg> <public JWK>"`.
    fn published_keys(&self) -> Result<Vec<String>, Unavailable>;
    /// Adds `key`, signing `activation_seconds` from now; the keys signing
    /// until then stop at that moment and verify `grace_seconds` longer.
    fn add_signing_key(&self, key: &crate::signing_keys::NewKey, activation_seconds: i64, grace_seconds: i64) -> Result<(), Unavailable>;
    /// Adds `key` as the first to sign its algorithm, from now, unless a
    /// key signs it already (another instance's first login or JWKS
    /// request stored one first: then that one stays, so that instances
    /// racing on a new store agree on one key); as with
    /// [`Store::add_signing_key`], the keys it replaces verify
    /// `grace_seconds` longer. Returns the key that signs the algorithm
    /// now, as `"<kid> <sealed private half>"`.
    fn add_first_signing_key(&self, key: &crate::signing_keys::NewKey, grace_seconds: i64) -> Result<Option<String>, Unavailable>;
    /// Records a good login with its event and opens its session, resetting
    /// the failure count, refunding the attempt's reservation and replacing
    /// the hash when `new_hash` is given, provided the account still holds
    /// `verified`, the hash the password was checked against: `false` when
    /// the account vanished or its password changed (a reset committed)
    /// while the login was hashing; then nothing is written.
    fn login_succeeded(&self, user_id: &str, verified: &str, new_hash: Option<&str>, session: &NewSession<'_>, event: &Event)
        -> Result<bool, Unavailable>;
    /// Rotates a session's refresh token, atomically: of two refreshes with
    /// the same token one rotates and the other, within the grace window,
    /// is answered with the same successor. A replay of an older token
    /// revokes the session and queues `RefreshTokenReused` with id
    /// `reuse_event_id`. The key that signs for `signing_alg` comes along.
    /// With `client`, the client's bucket is asked first, in the same
    /// statement where the dialect can.
    fn refresh(&self, attempt: &RefreshAttempt<'_>, terms: RefreshTerms) -> Result<Refresh, Unavailable>;
    /// Ends the bearer's sessions of `scope` and queues `event`.
    fn logout(&self, bearer: Bearer<'_>, scope: LogoutScope, event: &Event) -> Result<Ended, Unavailable>;
    /// Ends one live session of the bearer's user and queues `event`.
    fn end_session(&self, bearer: Bearer<'_>, session_id: &str, event: &Event) -> Result<Ended, Unavailable>;
    /// The user's live sessions, newest first; `None` when the bearer's own
    /// session is no longer live.
    fn list_sessions(&self, bearer: Bearer<'_>) -> Result<Option<Vec<SessionInfo>>, Unavailable>;
    /// Sets a live bearer's new password hash in place of `verified` (the
    /// hash the current password was checked against), ends the user's
    /// other sessions, refunds the attempt's reservation of `login` and
    /// queues `event`, atomically; `false` when the bearer's session has
    /// ended or the password changed meanwhile.
    fn change_password(&self, bearer: Bearer<'_>, verified: &str, new_hash: &str, login: &str, event: &Event) -> Result<bool, Unavailable>;
    /// Records a failed login with its event, counting it against the
    /// account when there is one.
    fn login_failed(&self, user_id: Option<&str>, event: &Event) -> Result<(), Unavailable>;
    /// Inserts the account with its event, its e-mail verification token
    /// and that token's event, unless the username or the
    /// (case-insensitive) e-mail is taken.
    fn register(&self, user: &NewUser<'_>, event: &Event, verification: &IssuedToken<'_>) -> Result<Registration, Unavailable>;
    /// Takes a token from the client's bucket (DESIGN.md §7); an empty
    /// bucket refuses and nothing is taken.
    fn take_client_token(&self, client: &ClientTerms) -> Result<Admission, Unavailable>;
    /// Deletes client buckets idle `bucket_idle_seconds` (full again, so
    /// they say nothing) and login-throttle rows idle a day and not locked.
    fn purge_throttles(&self, bucket_idle_seconds: i64) -> Result<(), Unavailable>;
    /// Gives the attempt's reservation of `login` back without a session.
    fn refund_attempt(&self, login: &str) -> Result<(), Unavailable>;
    /// Stores a password-reset token for the account whose e-mail is
    /// `email` (any case), replacing its earlier ones, and queues the
    /// token's event with the account's id and stored address filled in;
    /// for an unknown address nothing changes, in the same one statement.
    /// `true` when there was an account.
    fn request_password_reset(&self, email: &str, token: &IssuedToken<'_>) -> Result<bool, Unavailable>;
    /// With the live reset token of hash `token_hash`, atomically: the new
    /// hash, every session of the user ended, the user's reset tokens
    /// deleted (this one spent), the address marked verified, and `event`
    /// queued with the user's id filled in. `false` for a token that is
    /// unknown, spent or expired.
    fn reset_password(&self, token_hash: &str, new_hash: &str, event: &Event) -> Result<bool, Unavailable>;
    /// With the live verification token of hash `token_hash` for the
    /// account's current address: the address verified, the token spent,
    /// `event` queued with the user's id and address filled in.
    fn verify_email(&self, token_hash: &str, event: &Event) -> Result<bool, Unavailable>;
    /// A new verification token for the bearer's unverified address, in
    /// place of the earlier ones, with its event (address filled in).
    fn resend_verification(&self, bearer: Bearer<'_>, token: &IssuedToken<'_>) -> Result<Resend, Unavailable>;
    fn insert_event(&self, event: &Event) -> Result<(), Unavailable>;
    /// Applies pending migrations; returns the versions applied.
    fn migrate(&self) -> Result<Vec<i32>, Unavailable>;

    /// Takes the publishing turn for one batch, so that events leave in
    /// outbox order; `false` when another publisher holds it and will
    /// publish whatever is pending, this caller's rows included.
    fn begin_batch(&self) -> Result<bool, Unavailable>;
    /// Up to `limit` of the oldest pending events, within the turn.
    fn claim_pending(&self, limit: i64) -> Result<Vec<PendingEvent>, Unavailable>;
    /// Records the outcome and gives the turn back; `true` when rows newer
    /// than the batch are known to be waiting (a publisher that was turned
    /// away meanwhile left them to this one).
    fn finish_batch(&self, outcome: &BatchOutcome<'_>) -> Result<bool, Unavailable>;
    /// Gives the turn back without recording anything.
    fn cancel_batch(&self);
}

/// Opens the store `config` names.
pub fn open(config: StoreConfig) -> Result<Box<dyn Store>, Unavailable> {
    Ok(match config {
        StoreConfig::Postgres(url) => Box::new(postgres::PgStore::open(url)?),
        StoreConfig::Sqlite { label } => Box::new(sqlite::SqliteStore::open(label)?),
    })
}
