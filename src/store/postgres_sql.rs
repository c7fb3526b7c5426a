//! The PostgreSQL dialect's SQL, all with `$n` parameters.
//!
//! Spin 4.0.0–4.0.2 hang for good on a `query` that returns zero rows
//! (spinframework/spin#3671), so every statement run through `query` returns
//! at least one row: lookups select from a one-row subquery `LEFT JOIN` the
//! table and read "not found" from the nulls. Spin also cannot read
//! `timestamptz` columns, so times are selected as text or epoch numbers.
//! Writes that belong together are one statement (data-modifying CTEs).

/// The database clock as ISO-8601 UTC text with microseconds.
pub const NOW: &str = r#"SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"#;
/// A login name is a username or an e-mail (any case); a username match wins.
/// `$2` is the login folded by Rust, as the service folds the e-mails it
/// stores, so non-ASCII capitals match whatever the database's collation.
pub const FIND_LOGIN_USER: &str = r#"SELECT u.id, u.username, u.email, u.password
    FROM (SELECT 1) AS one
    LEFT JOIN "user" u ON u.username = $1 OR lower(u.email) = lower($1) OR u.email = $2
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
pub const COMMIT: &str = "COMMIT";
pub const ROLLBACK: &str = "ROLLBACK";
/// Serialises publishers, so that events leave in outbox order even when
/// several requests deliver at once; it also serialises migrations.
pub const ADVISORY_XACT_LOCK: &str = "SELECT pg_advisory_xact_lock($1)";
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

pub const CREATE_VERSIONS: &str = "CREATE TABLE IF NOT EXISTS auth_schema_migrations (\
    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())";
/// Touches no table: Spin plans every statement anew, and a ping planned
/// against a table cost PostgreSQL 100-160 µs more per request.
pub const PING: &str = "SELECT 1";
pub const CURRENT_VERSION: &str = "SELECT COALESCE(MAX(version), 0) FROM auth_schema_migrations";
pub const RECORD_VERSION: &str = "INSERT INTO auth_schema_migrations (version, name) VALUES ($1, $2)";
