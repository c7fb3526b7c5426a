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
/// The key that signs now for algorithm `?n`, as `"<kid> <sealed private
/// half>"`; null for HS256 or before the first key is made.
macro_rules! signing_key {
    ($alg:literal) => {
        concat!(
            "(SELECT k.kid || ' ' || k.private_key FROM auth_signing_key k WHERE k.alg = ",
            $alg,
            " AND k.activates_at <= ",
            now_iso!(),
            " AND (k.signs_until IS NULL OR k.signs_until > ",
            now_iso!(),
            ") ORDER BY k.activates_at DESC, k.kid LIMIT 1)"
        )
    };
}
/// The published key `?n` as `"<alg> <public JWK>"`; null when unknown or
/// past its last use.
macro_rules! verifying_key {
    ($kid:literal) => {
        concat!(
            "(SELECT k.alg || ' ' || k.public_jwk FROM auth_signing_key k WHERE k.kid = ",
            $kid,
            " AND (k.verifies_until IS NULL OR k.verifies_until > ",
            now_iso!(),
            "))"
        )
    };
}
/// A login attempt: its reservation in `auth_login_throttle` (see the
/// PostgreSQL dialect) for the folded login name `?2` with threshold `?3`
/// and lock lengths `?4`..`?5`, one upsert under the writer lock, returning
/// refused, failures, the lock's end and seconds left, and the account as
/// a JSON array (id, username, e-mail, hash, and the key that signs for
/// algorithm `?6`). A login name is a username or an e-mail (any case); a
/// username match wins. SQLite's `lower()` folds only ASCII, so the login
/// comes folded by Rust as `?2` (the service stores e-mails folded the
/// same way).
///
/// The client's token comes first, in the same statement: the attempt
/// carries the client `?7` and its bucket's terms (`?8` at most, `?9` a
/// second back) into the row, and migration 8's `BEFORE INSERT` trigger
/// takes the token, or abandons the row when the bucket is empty: then the
/// statement returns no row, and nothing else has changed.
pub const FIND_LOGIN_USER: &str = concat!(
    "INSERT INTO auth_login_throttle (login, failures, locked_until, refused, updated_at, client, client_burst, client_rate)
    VALUES (?2, 1, CASE WHEN 1 >= ?3 THEN strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+' || min(?4, ?5) || ' seconds') END, 0, ",
    now_iso!(),
    ", ?7, ?8, ?9)
    ON CONFLICT (login) DO UPDATE SET
        client = excluded.client, client_burst = excluded.client_burst, client_rate = excluded.client_rate,
        refused = coalesce(locked_until > ",
    now_iso!(),
    ", 0),
        failures = CASE WHEN locked_until > ",
    now_iso!(),
    " THEN failures ELSE failures + 1 END,
        locked_until = CASE WHEN locked_until > ",
    now_iso!(),
    " THEN locked_until
            WHEN failures + 1 >= ?3 THEN strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+' || min(?5, ?4 * (1 << min(failures + 1 - ?3, 30))) || ' seconds')
            ELSE locked_until END,
        updated_at = ",
    now_iso!(),
    r#"
    RETURNING refused, failures, locked_until,
        CAST((julianday(locked_until) - julianday('now')) * 86400 + 0.999 AS INTEGER),
        (SELECT json_array(u.id, u.username, u.email, u.password, "#,
    signing_key!("?6"),
    r#", CASE WHEN u.email_verified_at IS NOT NULL THEN 'verified' END) FROM "user" u
            WHERE u.username = ?1 OR u.email = ?1 OR lower(u.email) = ?2
            ORDER BY u.username = ?1 DESC
            LIMIT 1)"#
);
pub const FIND_USER: &str = r#"SELECT id, username, email FROM "user" WHERE id = ?1"#;
/// An access token's user and whether its session (`?2`) is live.
pub const FIND_SESSION_USER: &str = concat!(
    r#"SELECT u.id, u.username, u.email, EXISTS (SELECT 1 FROM auth_session s WHERE s.id = ?2 AND s.user_id = u.id
        AND s.revoked_at IS NULL AND s.expires_at > "#,
    now_iso!(),
    r#")
    FROM "user" u WHERE u.id = ?1"#
);
/// [`FIND_SESSION_USER`] for a token signed by key `?3`, which comes along
/// (a row even for an unknown user, so that the signature is checked first).
pub const FIND_SESSION_USER_AND_KEY: &str = concat!(
    r#"SELECT u.id, u.username, u.email, EXISTS (SELECT 1 FROM auth_session s WHERE s.id = ?2 AND s.user_id = u.id
        AND s.revoked_at IS NULL AND s.expires_at > "#,
    now_iso!(),
    "), ",
    verifying_key!("?3"),
    r#"
    FROM (SELECT 1) AS one LEFT JOIN "user" u ON u.id = ?1"#
);
/// Key `?1` to verify a token with; always one row.
pub const VERIFYING_KEY: &str = concat!("SELECT ", verifying_key!("?1"));
/// The keys `/.well-known/jwks.json` lists, oldest first, as `"<alg>
/// <public JWK>"`: every key not past its last use.
pub const PUBLISHED_KEYS: &str = concat!(
    "SELECT alg || ' ' || public_jwk FROM auth_signing_key WHERE verifies_until IS NULL OR verifies_until > ",
    now_iso!(),
    " ORDER BY activates_at, kid"
);
/// [`ADD_SIGNING_KEY`], with its parameters, for a key that is to be the
/// first to sign its algorithm `?2`: nothing, when one signs it already
/// (writers take turns, so a racing instance's key is seen).
pub const ADD_FIRST_SIGNING_KEY: &str = concat!(
    "INSERT INTO auth_signing_key_added (kid, alg, public_jwk, private_key, activation_seconds, grace_seconds)
    SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE ",
    signing_key!("?2"),
    " IS NULL"
);
/// The key that signs algorithm `?1` now, as `"<kid> <sealed private
/// half>"`; null when none does.
pub const SIGNING_KEY: &str = concat!("SELECT ", signing_key!("?1"));
/// A new key through `auth_signing_key_added`'s trigger (migration 5): it
/// signs `?5` seconds from now, the keys signing until then stop at that
/// moment and verify `?6` seconds longer.
pub const ADD_SIGNING_KEY: &str = "INSERT INTO auth_signing_key_added (kid, alg, public_jwk, private_key, activation_seconds, grace_seconds)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
/// A good login: queue the event, reset the failure counter, stamp the
/// time, replace the hash when `?2` is not null, open the session and
/// refund the attempt's reservation (the throttle row of `?11`), unless
/// the account is gone or no longer holds the hash `?12` the password was
/// checked against (a reset committed meanwhile): then nothing is written.
pub const LOGIN_SUCCEEDED: &str = r#"INSERT INTO auth_login_session (user_id, new_hash, event_id, event, payload,
        session_id, idle_seconds, max_seconds, user_agent, ip, login)
    SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11
    WHERE EXISTS (SELECT 1 FROM "user" WHERE id = ?1 AND password = ?12)"#;
/// Whether the token of generation `?2` is a replay: older than the newest,
/// and not the one rotated within the last `?4` seconds.
macro_rules! reused {
    () => {
        "(refresh_generation > ?2 AND NOT (refresh_generation = ?2 + 1 AND rotated_at > strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || ?4 || ' seconds')))"
    };
}
/// A refresh with the token of generation `?2` of session `?1`, one
/// UPDATE under the writer lock: the newest token rotates (the idle end
/// moves `?3` seconds ahead, never past the absolute end); the token just
/// rotated, within `?4` seconds, changes nothing; an older one revokes the
/// session, naming the event `?5`, which the `auth_session_reused` trigger
/// queues. No row when there is no live session; otherwise its newest
/// generation, the event id when this refresh revoked it, its user and the
/// key that signs for algorithm `?6`.
/// (`revoked_at IS NOT NULL` in RETURNING came back 1 for a null here,
/// with SQLite 3.40, so the id is returned instead.)
pub const REFRESH: &str = concat!(
    "UPDATE auth_session SET
        refresh_generation = refresh_generation + (refresh_generation = ?2),
        rotated_at = CASE WHEN refresh_generation = ?2 THEN ",
    now_iso!(),
    " ELSE rotated_at END,
        last_used_at = CASE WHEN refresh_generation = ?2 THEN ",
    now_iso!(),
    " ELSE last_used_at END,
        idle_expires_at = CASE WHEN refresh_generation = ?2
            THEN min(strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+' || ?3 || ' seconds'), expires_at) ELSE idle_expires_at END,
        revoked_at = CASE WHEN ",
    reused!(),
    " THEN ",
    now_iso!(),
    " END,
        revoked_reason = CASE WHEN ",
    reused!(),
    " THEN 'refresh_token_reused' END,
        revoked_event_id = CASE WHEN ",
    reused!(),
    " THEN ?5 END
    WHERE id = ?1 AND revoked_at IS NULL AND expires_at > ",
    now_iso!(),
    " AND idle_expires_at > ",
    now_iso!(),
    r#"
    RETURNING refresh_generation, revoked_event_id, user_id,
        (SELECT username FROM "user" u WHERE u.id = auth_session.user_id),
        (SELECT email FROM "user" u WHERE u.id = auth_session.user_id), "#,
    signing_key!("?6")
);
/// Logging out or ending one session (`auth_logout`'s trigger decides);
/// [`EVENT_QUEUED`] tells whether it happened.
pub const LOGOUT: &str = "INSERT INTO auth_logout (user_id, session_id, scope, target_id, event_id, event, payload)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
/// Whether the bearer (user `?1`, session `?2`, null for a token without
/// one) is live.
macro_rules! live_bearer {
    () => {
        concat!(
            "(?2 IS NULL OR EXISTS (SELECT 1 FROM auth_session WHERE id = ?2 AND user_id = ?1 AND revoked_at IS NULL AND expires_at > ",
            now_iso!(),
            "))"
        )
    };
}
pub const BEARER_LIVE: &str = concat!("SELECT ", live_bearer!());
/// The live sessions of the bearer's user, newest first, when the bearer
/// is live; at least one row (the first column says whether it was).
pub const LIST_SESSIONS: &str = concat!(
    "SELECT b.live, s.id, s.created_at, s.last_used_at, s.user_agent, s.ip
    FROM (SELECT ",
    live_bearer!(),
    " AS live) AS b
    LEFT JOIN auth_session s ON b.live AND s.user_id = ?1 AND s.revoked_at IS NULL AND s.expires_at > ",
    now_iso!(),
    " AND s.idle_expires_at > ",
    now_iso!(),
    "
    ORDER BY s.created_at DESC, s.id"
);
/// Whether a unit queued its event (and so made its changes).
pub const EVENT_QUEUED: &str = "SELECT EXISTS (SELECT 1 FROM auth_outbox WHERE id = ?1)";
/// A password change through `auth_password_change`'s trigger (migration
/// 6), while the account still holds `?8`, the hash the current password
/// was checked against; [`EVENT_QUEUED`] tells whether it happened.
pub const CHANGE_PASSWORD: &str = r#"INSERT INTO auth_password_change (user_id, session_id, new_hash, login, event_id, event, payload)
    SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7
    WHERE EXISTS (SELECT 1 FROM "user" WHERE id = ?1 AND password = ?8)"#;
/// A failed login: count it against the account (if any), queue the event.
pub const LOGIN_FAILED: &str = "INSERT INTO auth_login_failed (user_id, event_id, event, payload) VALUES (?1, ?2, ?3, ?4)";
/// Inserts the account and queues its event unless the username or the
/// (case-insensitive) e-mail is taken.
pub const REGISTER: &str = "INSERT INTO auth_register (id, username, password, email, event_id, event, payload,
        token_hash, expires_at, verify_event_id, verify_event, verify_payload)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
/// After [`REGISTER`]: whether the account with id `?1` was made, and
/// whether the username `?2` is taken.
pub const REGISTRATION_RESULT: &str = r#"SELECT EXISTS (SELECT 1 FROM "user" WHERE id = ?1),
    EXISTS (SELECT 1 FROM "user" WHERE username = ?2)"#;
pub const INSERT_EVENT: &str = "INSERT INTO auth_outbox (id, event, payload) VALUES (?1, ?2, ?3)";
/// A password-reset request (migration 7's trigger); [`EVENT_QUEUED`]
/// tells whether the address was an account's.
pub const REQUEST_PASSWORD_RESET: &str = "INSERT INTO auth_password_forgot (email, token_hash, expires_at, event_id, event, payload)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
/// A reset with a token; [`EVENT_QUEUED`] tells whether it happened.
pub const RESET_PASSWORD: &str = "INSERT INTO auth_password_reset (token_hash, new_hash, event_id, event, payload)
    VALUES (?1, ?2, ?3, ?4, ?5)";
/// A verification with a token; [`EVENT_QUEUED`] tells whether it happened.
pub const VERIFY_EMAIL: &str = "INSERT INTO auth_email_verify (token_hash, event_id, event, payload) VALUES (?1, ?2, ?3, ?4)";
/// A new verification token for a live, unverified bearer; [`EVENT_QUEUED`]
/// tells whether it was issued, and [`RESEND_REFUSED`] why not.
pub const RESEND_VERIFICATION: &str = "INSERT INTO auth_email_resend (user_id, session_id, token_hash, expires_at, event_id, event, payload)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
/// Why no verification token was issued: whether the bearer is live, and
/// whether its address is verified already.
pub const RESEND_REFUSED: &str = concat!(
    "SELECT ",
    live_bearer!(),
    r#", EXISTS (SELECT 1 FROM "user" WHERE id = ?1 AND email_verified_at IS NOT NULL)"#
);
/// Now in Unix seconds with fractions.
macro_rules! now_seconds {
    () => {
        "((julianday('now') - 2440587.5) * 86400.0)"
    };
}
/// Takes a token from client `?1`'s bucket: it holds at most `?2` and
/// regains `?3` a second; a request finding less than one is refused and
/// takes nothing. One row: admitted, and the tokens left.
macro_rules! bucket_level {
    () => {
        concat!("min(?2, tokens + (", now_seconds!(), " - updated_at) * ?3)")
    };
}
pub const TAKE_CLIENT_TOKEN: &str = concat!(
    "INSERT INTO auth_client_bucket (client, tokens, admitted, updated_at) VALUES (?1, ?2 - 1, 1, ",
    now_seconds!(),
    ")
    ON CONFLICT (client) DO UPDATE SET
        admitted = ",
    bucket_level!(),
    " >= 1,
        tokens = ",
    bucket_level!(),
    " - (",
    bucket_level!(),
    " >= 1),
        updated_at = ",
    now_seconds!(),
    "
    RETURNING admitted, tokens"
);
/// The tokens left in client `?1`'s bucket, after a refusal.
pub const CLIENT_TOKENS: &str = "SELECT tokens FROM auth_client_bucket WHERE client = ?1";
/// Buckets idle `?1` seconds (full again) go.
pub const PURGE_CLIENT_BUCKETS: &str = concat!("DELETE FROM auth_client_bucket WHERE updated_at < ", now_seconds!(), " - ?1");
/// Login-throttle rows idle a day and not locked go.
pub const PURGE_LOGIN_THROTTLE: &str = concat!(
    "DELETE FROM auth_login_throttle WHERE updated_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 day')
        AND (locked_until IS NULL OR locked_until < ",
    now_iso!(),
    ")"
);
/// Gives back a login attempt's reservation: the password was right, but
/// the login stops short of a session.
pub const REFUND_ATTEMPT: &str = "DELETE FROM auth_login_throttle WHERE login = ?1";
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
/// A published event that carried a reset or verification token keeps it
/// no longer (as on PostgreSQL).
pub const MARK_BATCH: &str = concat!(
    "UPDATE auth_outbox SET attempts = attempts + 1,
        published_at = CASE WHEN seq IN (SELECT value FROM json_each(?1)) THEN ",
    now_iso!(),
    " ELSE published_at END,
        payload = CASE WHEN seq IN (SELECT value FROM json_each(?1)) AND json_extract(payload, '$.data.token') IS NOT NULL
            THEN json_set(payload, '$.data.token', NULL) ELSE payload END,
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
