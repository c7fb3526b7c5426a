//! The SQLite dialect's SQL, all with `?n` parameters. SQLite has no
//! data-modifying CTEs; a write unit is one statement all the same, an
//! INSERT into a view whose INSTEAD OF trigger (migration 3) makes each
//! change, so that it takes the writer lock for the time SQLite runs it and
//! commits atomically. Its values are integer, real, text, blob or null, so
//! times are ISO-8601 UTC text (or Unix seconds where delivery needs a
//! number) and events are JSON text.

/// The current time as ISO-8601 UTC text with milliseconds.
macro_rules! now_iso {
    () => {
        "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
    };
}

/// The current time in Unix seconds.
macro_rules! now_epoch {
    () => {
        "CAST(strftime('%s', 'now') AS INTEGER)"
    };
}

pub const NOW: &str = concat!("SELECT ", now_iso!());
/// A login name is a username or an e-mail (any case); a username match wins.
/// SQLite's `lower()` folds only ASCII, so the login comes folded by Rust as
/// `?2` (the service stores e-mails folded the same way).
pub const FIND_LOGIN_USER: &str = r#"SELECT id, username, email, password FROM "user"
    WHERE username = ?1 OR email = ?1 OR lower(email) = ?2
    ORDER BY username = ?1 DESC
    LIMIT 1"#;
pub const FIND_USER: &str = r#"SELECT id, username, email FROM "user" WHERE id = ?1"#;
/// A good login: queue the event, reset the failure counter, stamp the
/// time and replace the hash when `?2` is not null, unless the account is
/// gone (then nothing is written).
pub const LOGIN_SUCCEEDED: &str = "INSERT INTO auth_login_succeeded (user_id, new_hash, event_id, event, payload)
    VALUES (?1, ?2, ?3, ?4, ?5)";
/// Whether a unit queued its event (and so made its changes).
pub const EVENT_QUEUED: &str = "SELECT EXISTS (SELECT 1 FROM auth_outbox WHERE id = ?1)";
/// A failed login: count it against the account (if any), queue the event.
pub const LOGIN_FAILED: &str = "INSERT INTO auth_login_failed (user_id, event_id, event, payload) VALUES (?1, ?2, ?3, ?4)";
/// Inserts the account and queues its event unless the username or the
/// (case-insensitive) e-mail is taken.
pub const REGISTER: &str = "INSERT INTO auth_register (id, username, password, email, event_id, event, payload)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
/// After [`REGISTER`]: whether the account with id `?1` was made, and
/// whether the username `?2` is taken.
pub const REGISTRATION_RESULT: &str = r#"SELECT EXISTS (SELECT 1 FROM "user" WHERE id = ?1),
    EXISTS (SELECT 1 FROM "user" WHERE username = ?2)"#;
pub const INSERT_EVENT: &str = "INSERT INTO auth_outbox (id, event, payload) VALUES (?1, ?2, ?3)";
/// Health: the outbox backlog and the age of its oldest row.
pub const OUTBOX_BACKLOG: &str = concat!(
    "SELECT count(*), COALESCE((julianday(",
    now_iso!(),
    ") - julianday(min(created_at))) * 86400.0, 0.0)
    FROM auth_outbox WHERE published_at IS NULL"
);

/// Migrations only: write units are single statements.
pub const BEGIN_IMMEDIATE: &str = "BEGIN IMMEDIATE";
pub const COMMIT: &str = "COMMIT";
pub const ROLLBACK: &str = "ROLLBACK";

/// Takes the publishing lease for `?1` for `?2` seconds when it is free or
/// its holder's time ran out; a row back when taken.
pub const TAKE_PUBLISHER_LEASE: &str = concat!(
    "UPDATE auth_outbox_publisher SET holder = ?1, expires_at = ",
    now_epoch!(),
    " + ?2 WHERE id = 1 AND (holder IS NULL OR expires_at <= ",
    now_epoch!(),
    ") RETURNING holder"
);
/// The oldest pending rows (the lease keeps other publishers away).
pub const CLAIM_PENDING: &str = "SELECT seq, id, event, payload, CAST(strftime('%s', created_at) AS INTEGER)
    FROM auth_outbox WHERE published_at IS NULL ORDER BY seq LIMIT ?1";
/// Marks a batch (sequence numbers as JSON arrays): confirmed rows
/// published, the rest keep their place with the error that held them back.
pub const MARK_BATCH: &str = concat!(
    "UPDATE auth_outbox SET attempts = attempts + 1,
        published_at = CASE WHEN seq IN (SELECT value FROM json_each(?1)) THEN ",
    now_iso!(),
    " ELSE published_at END,
        last_error = CASE WHEN seq IN (SELECT value FROM json_each(?1)) THEN last_error ELSE ?3 END
    WHERE seq IN (SELECT value FROM json_each(?2))"
);
/// Gives the lease back; answers whether rows newer than `?2` wait.
pub const RELEASE_PUBLISHER_LEASE: &str = "UPDATE auth_outbox_publisher SET holder = NULL, expires_at = 0
    WHERE id = 1 AND holder = ?1
    RETURNING EXISTS (SELECT 1 FROM auth_outbox WHERE published_at IS NULL AND seq > ?2)";

/// Write-ahead logging: readers no longer wait for a committing writer.
/// Persistent in the file; outside any transaction.
pub const JOURNAL_MODE_WAL: &str = "PRAGMA journal_mode = WAL";
/// A migrator asks for the writer lock without waiting (then restores
/// rusqlite's 5 s, which Spin's connections have).
pub const BUSY_TIMEOUT_OFF: &str = "PRAGMA busy_timeout = 0";
pub const BUSY_TIMEOUT_DEFAULT: &str = "PRAGMA busy_timeout = 5000";
pub const CREATE_VERSIONS: &str = concat!(
    "CREATE TABLE IF NOT EXISTS auth_schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT (",
    now_iso!(),
    "))"
);
pub const PING: &str = "SELECT 1";
pub const CURRENT_VERSION: &str = "SELECT COALESCE(MAX(version), 0) FROM auth_schema_migrations";
pub const RECORD_VERSION: &str = "INSERT INTO auth_schema_migrations (version, name) VALUES (?1, ?2)";
