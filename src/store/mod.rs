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

use crate::config::StoreConfig;
use crate::errors::Unavailable;
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
/// them: the account, then its event.
fn registration_params<V>(user: &NewUser<'_>, event: &Event, text: impl Fn(&str) -> V, json: impl Fn(&Event) -> V) -> [V; 7] {
    [
        text(user.id),
        text(user.username),
        text(user.password_hash),
        text(user.email),
        text(&event.id),
        text(event.name),
        json(event),
    ]
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
    /// The account a login name (username, or e-mail in any case) refers
    /// to; a username match wins.
    fn find_login_user(&self, login: &str) -> Result<Option<User>, Unavailable>;
    fn find_user(&self, id: &str) -> Result<Option<User>, Unavailable>;
    /// Records a good login with its event, resetting the failure count and
    /// replacing the hash when `new_hash` is given; `false` when the account
    /// vanished meanwhile (then nothing is written).
    fn login_succeeded(&self, user_id: &str, new_hash: Option<&str>, event: &Event) -> Result<bool, Unavailable>;
    /// Records a failed login with its event, counting it against the
    /// account when there is one.
    fn login_failed(&self, user_id: Option<&str>, event: &Event) -> Result<(), Unavailable>;
    /// Inserts the account with its event unless the username or the
    /// (case-insensitive) e-mail is taken.
    fn register(&self, user: &NewUser<'_>, event: &Event) -> Result<Registration, Unavailable>;
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
