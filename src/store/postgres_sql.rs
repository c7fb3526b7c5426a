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
/// The key that signs now for algorithm `$n`, as `"<kid> <sealed private
/// half>"`; null for HS256 or before the first key is made.
macro_rules! signing_key {
    ($alg:literal) => {
        signing_key!($alg, "now()")
    };
    // As of `$now` (an SQL time expression) instead of the transaction's start.
    ($alg:literal, $now:literal) => {
        concat!(
            "(SELECT k.kid || ' ' || k.private_key FROM auth_signing_key k WHERE k.alg = ",
            $alg,
            "::varchar AND k.activates_at <= ",
            $now,
            " AND (k.signs_until IS NULL OR k.signs_until > ",
            $now,
            ")
            ORDER BY k.activates_at DESC, k.kid LIMIT 1)"
        )
    };
}
/// The published key `$n` as `"<alg> <public JWK>"`; null when unknown or
/// past its last use.
macro_rules! verifying_key {
    ($kid:literal) => {
        concat!(
            "(SELECT k.alg || ' ' || k.public_jwk FROM auth_signing_key k WHERE k.kid = ",
            $kid,
            "::varchar AND (k.verifies_until IS NULL OR k.verifies_until > now()))"
        )
    };
}
/// Takes a token from client `$c`'s bucket (DESIGN.md §7; nothing when
/// `$c` is null): it holds at most `$burst` and regains `$rate` a second;
/// a request finding less than one is refused and takes nothing. Returns
/// admitted and the tokens left.
macro_rules! take_client_token {
    ($c:literal, $burst:literal, $rate:literal) => {
        concat!(
            "INSERT INTO auth_client_bucket AS b (client, tokens, admitted, updated_at)
        SELECT ", $c, "::varchar, ", $burst, "::float8 - 1, true, now() WHERE ", $c, "::varchar IS NOT NULL
        ON CONFLICT (client) DO UPDATE SET
            admitted = ", take_client_token!(@level $burst, $rate), " >= 1,
            tokens = ", take_client_token!(@level $burst, $rate), " - CASE WHEN ", take_client_token!(@level $burst, $rate), " >= 1 THEN 1 ELSE 0 END,
            updated_at = now()
        RETURNING admitted, tokens"
        )
    };
    (@level $burst:literal, $rate:literal) => {
        concat!("LEAST(", $burst, "::float8, b.tokens + EXTRACT(EPOCH FROM now() - b.updated_at)::float8 * ", $rate, "::float8)")
    };
}
/// [`take_client_token!`] on its own, for the costly POSTs whose first
/// statement does not take it (client `$1`, burst `$2`, rate `$3`).
pub const TAKE_CLIENT_TOKEN: &str = take_client_token!("$1", "$2", "$3");
/// Whether the bucket of the statement's `bucket` CTE admitted the request
/// (true when there was none).
macro_rules! admitted {
    () => {
        "COALESCE((SELECT admitted FROM bucket), true)"
    };
}
/// A login attempt: first the client's token (client `$6`, burst `$7`,
/// rate `$8`; refused, nothing else happens), then its reservation in
/// `auth_login_throttle`
/// (DESIGN.md §7) for the folded login name `$2`, counted as a failure
/// before any hashing and atomically (the row is locked by the upsert);
/// while the name is locked nothing changes but `refused`. The failure
/// that reaches `$3` (threshold) locks the name for `$4` seconds, doubling
/// with each further failure up to `$5`. Then the account: a login name is
/// a username or an e-mail (any case), a username match winning; `$2` is
/// folded by Rust as the service folds the e-mails it stores, so
/// non-ASCII capitals match whatever the database's collation. Columns:
/// the user, the signing key (or null), then refused, failures, seconds
/// left of the lock, its end, whether the user's e-mail is verified, and
/// whether the client was admitted with the tokens its bucket has left.
macro_rules! find_login_user {
    ($key:expr) => {
        concat!(
            "WITH bucket AS (",
            take_client_token!("$6", "$7", "$8"),
            r#"),
    reserved AS (
        INSERT INTO auth_login_throttle AS t (login, failures, locked_until)
        SELECT $2, 1, CASE WHEN 1 >= $3::int4 THEN now() + LEAST($4::int8, $5::int8) * interval '1 second' END
        WHERE "#,
            admitted!(),
            r#"
        ON CONFLICT (login) DO UPDATE SET
            refused = COALESCE(t.locked_until > now(), false),
            failures = CASE WHEN t.locked_until > now() THEN t.failures ELSE t.failures + 1 END,
            locked_until = CASE WHEN t.locked_until > now() THEN t.locked_until
                WHEN t.failures + 1 >= $3::int4 THEN now() + LEAST($5::int8,
                    $4::int8 * (1::int8 << LEAST(t.failures + 1 - $3::int4, 30))) * interval '1 second'
                ELSE t.locked_until END,
            updated_at = now()
        RETURNING refused, failures, locked_until)
    SELECT u.id, u.username, u.email, u.password, "#,
            $key,
            r#",
        r.refused, r.failures::int8,
        CASE WHEN r.locked_until > now() THEN CEIL(EXTRACT(EPOCH FROM r.locked_until - now()))::int8 END,
        to_char(r.locked_until AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        u.email_verified_at IS NOT NULL, "#,
            admitted!(),
            r#", (SELECT tokens FROM bucket)
    FROM (SELECT 1) AS one
    LEFT JOIN reserved r ON true
    LEFT JOIN "user" u ON r.failures IS NOT NULL AND (u.username = $1 OR lower(u.email) = lower($1) OR u.email = $2)
    ORDER BY (u.username = $1) DESC NULLS LAST
    LIMIT 1"#
        )
    };
}
/// For HS256, whose key is `secret_key`: the key's subquery would cost
/// PostgreSQL about 80 µs of planning per login (pgbench -M extended).
pub const FIND_LOGIN_USER: &str = find_login_user!("NULL::text");
/// For a stored key pair: the key that signs for algorithm `$9` comes along.
pub const FIND_LOGIN_USER_AND_KEY: &str = find_login_user!(signing_key!("$9"));
pub const FIND_USER: &str = r#"SELECT u.id, u.username, u.email
    FROM (SELECT 1) AS one
    LEFT JOIN "user" u ON u.id = $1"#;
/// An access token's user and whether its session (`$2`) is live, in
/// `/profile`'s one statement: through migration 9's PL/pgSQL function,
/// whose plan PostgreSQL keeps for the connection, where the same query
/// sent as a statement was parsed and planned on every request (pgbench,
/// a parse per execution as under Spin, against the statement without a
/// session check: 0.53x as a statement, 1.19x through the function).
pub const FIND_SESSION_USER: &str = "SELECT id, username, email, live FROM auth_session_user($1, $2)";
/// [`FIND_SESSION_USER`] for a token signed by key `$3`, which comes along
/// (a row even for an unknown user, so that the signature is checked first).
pub const FIND_SESSION_USER_AND_KEY: &str = concat!(
    "SELECT id, username, email, live, ",
    verifying_key!("$3"),
    " FROM auth_session_user($1, $2)"
);
/// Key `$1` to verify a token with; always one row.
pub const VERIFYING_KEY: &str = concat!("SELECT ", verifying_key!("$1"));
/// The keys `/.well-known/jwks.json` lists, oldest first: `"<alg> <public
/// JWK>"` for every key not past its last use. At least one row.
pub const PUBLISHED_KEYS: &str = "SELECT k.alg || ' ' || k.public_jwk
    FROM (SELECT 1) AS one
    LEFT JOIN auth_signing_key k ON k.verifies_until IS NULL OR k.verifies_until > now()
    ORDER BY k.activates_at, k.kid";
/// A new key `$1` (algorithm `$2`, JWK `$3`, sealed private half `$4`) that
/// signs `$5` seconds from now; the keys signing until then stop at that
/// moment and verify `$6` seconds longer (every token they signed has
/// expired by then); keys past their last use go.
pub const ADD_SIGNING_KEY: &str = "WITH purged AS (
        DELETE FROM auth_signing_key WHERE verifies_until < now()),
    retired AS (
        UPDATE auth_signing_key SET signs_until = now() + $5::int8 * interval '1 second',
            verifies_until = now() + ($5::int8 + $6::int8) * interval '1 second'
        WHERE signs_until IS NULL)
    INSERT INTO auth_signing_key (kid, alg, public_jwk, private_key, activates_at)
    VALUES ($1, $2, $3, $4, now() + $5::int8 * interval '1 second')";
/// [`ADD_SIGNING_KEY`], with its parameters, for a key that is to be the
/// first to sign its algorithm `$2`: nothing, when one signs it already.
/// Run under an advisory lock of its own, so that a racing instance's key,
/// committed while this one waited, is seen; "now" for that key is this
/// statement's start, after the wait, since `now()` is the transaction's,
/// which may be older than the racing key. One row: the key that signs
/// `$2` now, as `"<kid> <sealed private half>"`.
pub const ADD_FIRST_SIGNING_KEY: &str = concat!(
    "WITH existing AS (SELECT ",
    signing_key!("$2", "statement_timestamp()"),
    " AS signing),
    retired AS (
        UPDATE auth_signing_key SET signs_until = now() + $5::int8 * interval '1 second',
            verifies_until = now() + ($5::int8 + $6::int8) * interval '1 second'
        WHERE signs_until IS NULL AND (SELECT signing FROM existing) IS NULL),
    added AS (
        INSERT INTO auth_signing_key (kid, alg, public_jwk, private_key, activates_at)
        SELECT $1::varchar, $2::varchar, $3::varchar, $4::varchar, now() + $5::int8 * interval '1 second'
        FROM existing WHERE signing IS NULL
        RETURNING kid || ' ' || private_key AS signing)
    SELECT COALESCE((SELECT signing FROM added), (SELECT signing FROM existing))"
);
/// A good login, while the account still holds the hash `$12` that the
/// password was checked against (a reset committing meanwhile wins): reset
/// the failure counter, stamp the time, replace the hash when `$2` is not
/// null, open the session (`$6`, idle and absolute lifetimes `$7` and `$8`
/// seconds, user agent `$9`, address `$10`), refund the attempt's
/// reservation (the throttle row of `$11`) and queue the event, atomically.
pub const LOGIN_SUCCEEDED: &str = r#"WITH updated AS (
        UPDATE "user" SET password = COALESCE($2::varchar, password),
            last_login_at = now(), failed_login_count = 0,
            updated_at = CASE WHEN $2::varchar IS NULL THEN updated_at ELSE now() END
        WHERE id = $1 AND password = $12::varchar RETURNING id),
    opened AS (
        INSERT INTO auth_session (id, user_id, idle_expires_at, expires_at, user_agent, ip)
        SELECT $6::varchar, id, now() + LEAST($7::int8, $8::int8) * interval '1 second',
            now() + $8::int8 * interval '1 second', $9::varchar, $10::varchar
        FROM updated),
    refunded AS (
        DELETE FROM auth_login_throttle WHERE login = $11::varchar AND EXISTS (SELECT 1 FROM updated))
    INSERT INTO auth_outbox (id, event, payload) SELECT $3::varchar, $4::varchar, $5::jsonb FROM updated"#;
/// A refresh with the token of generation `$2` of session `$1`, after the
/// client's token (client `$6`, burst `$7`, rate `$8`; refused, the
/// session is left alone). The session row is locked first, so that of two refreshes racing with one token the
/// second sees the first's rotation: within `$4` seconds of it, it gets the
/// same successor (`renewed`); an older token revokes the session and
/// queues `RefreshTokenReused` (id `$5`, built here because only the row
/// knows the user). A rotation moves the idle end `$3` seconds ahead, never
/// past the absolute end. Always one row: the verdict, the session's newest
/// generation, its user, the key that signs for algorithm `$9`, and whether
/// the client was admitted with the tokens its bucket has left.
macro_rules! refresh {
    ($key:expr) => {
        concat!(
    "WITH bucket AS (",
    take_client_token!("$6", "$7", "$8"),
    r#"),
    s AS (
        SELECT id, user_id, refresh_generation,
            CASE
                WHEN NOT "#,
    admitted!(),
    r#" THEN 'throttled'
                WHEN revoked_at IS NOT NULL OR now() >= expires_at OR now() >= idle_expires_at THEN 'invalid'
                WHEN refresh_generation = $2::int8 THEN 'rotate'
                WHEN refresh_generation = $2::int8 + 1 AND now() < rotated_at + $4::int8 * interval '1 second' THEN 'renewed'
                WHEN refresh_generation > $2::int8 THEN 'reused'
                ELSE 'invalid'
            END AS verdict
        FROM auth_session WHERE id = $1 FOR UPDATE),
    rotated AS (
        UPDATE auth_session t SET refresh_generation = t.refresh_generation + 1, rotated_at = now(), last_used_at = now(),
            idle_expires_at = LEAST(now() + $3::int8 * interval '1 second', t.expires_at)
        FROM s WHERE t.id = s.id AND s.verdict = 'rotate'
        RETURNING t.refresh_generation),
    revoked AS (
        UPDATE auth_session t SET revoked_at = now(), revoked_reason = 'refresh_token_reused', revoked_event_id = $5::varchar
        FROM s WHERE t.id = s.id AND s.verdict = 'reused'
        RETURNING t.id, t.user_id),
    queued AS (
        INSERT INTO auth_outbox (id, event, payload)
        SELECT $5::varchar, 'RefreshTokenReused', jsonb_build_object('event', 'RefreshTokenReused',
            'data', jsonb_build_object('user_id', user_id, 'session_id', id),
            'timestamp', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), 'id', $5::varchar)
        FROM revoked)
    SELECT CASE s.verdict WHEN 'rotate' THEN 'renewed' ELSE s.verdict END,
        COALESCE((SELECT refresh_generation FROM rotated), s.refresh_generation)::int8, u.id, u.username, u.email, "#,
    $key,
    ", ",
    admitted!(),
    r#", (SELECT tokens FROM bucket)
    FROM (SELECT 1) AS one
    LEFT JOIN s ON true
    LEFT JOIN "user" u ON u.id = s.user_id"#
)
    };
}
/// For HS256 (see [`FIND_LOGIN_USER`]).
pub const REFRESH: &str = refresh!("NULL::text");
/// For a stored key pair: the key that signs for algorithm `$9` comes along.
pub const REFRESH_AND_KEY: &str = refresh!(signing_key!("$9"));
/// Whether the bearer (user `$1`, session `$2`, null for a token without
/// one) may act: its session is live.
macro_rules! live_bearer {
    () => {
        "($2::varchar IS NULL OR EXISTS (SELECT 1 FROM auth_session WHERE id = $2 AND user_id = $1
            AND revoked_at IS NULL AND expires_at > now()))"
    };
}
/// A logout of scope `$3` (local, others, global) by a live bearer: its
/// sessions of that scope end and the event (`$4`–`$6`) is queued. One row:
/// whether the bearer was live.
pub const LOGOUT: &str = concat!(
    "WITH bearer AS (SELECT ",
    live_bearer!(),
    " AS live),
    ended AS (
        UPDATE auth_session SET revoked_at = now(), revoked_reason = 'logout'
        WHERE user_id = $1 AND revoked_at IS NULL AND (SELECT live FROM bearer)
            AND CASE $3::varchar WHEN 'local' THEN id = $2 WHEN 'others' THEN id IS DISTINCT FROM $2 ELSE true END
        RETURNING id),
    queued AS (
        INSERT INTO auth_outbox (id, event, payload) SELECT $4::varchar, $5::varchar, $6::jsonb FROM bearer WHERE live)
    SELECT live FROM bearer"
);
/// Ends session `$3` when it is a live session of the live bearer's user,
/// and queues the event (`$4`–`$6`). One row: whether the bearer was live,
/// whether the session ended.
pub const END_SESSION: &str = concat!(
    "WITH bearer AS (SELECT ",
    live_bearer!(),
    " AS live),
    ended AS (
        UPDATE auth_session SET revoked_at = now(), revoked_reason = 'logout'
        WHERE id = $3 AND user_id = $1 AND revoked_at IS NULL AND expires_at > now() AND (SELECT live FROM bearer)
        RETURNING id),
    queued AS (
        INSERT INTO auth_outbox (id, event, payload) SELECT $4::varchar, $5::varchar, $6::jsonb FROM ended)
    SELECT live, EXISTS (SELECT 1 FROM ended) FROM bearer"
);
/// The live sessions of the bearer's user, newest first, when the bearer
/// is live; at least one row (the first column says whether it was).
pub const LIST_SESSIONS: &str = concat!(
    "SELECT b.live, s.id, to_char(s.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
        to_char(s.last_used_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), s.user_agent, s.ip
    FROM (SELECT ",
    live_bearer!(),
    " AS live) AS b
    LEFT JOIN auth_session s ON b.live AND s.user_id = $1 AND s.revoked_at IS NULL
        AND s.expires_at > now() AND s.idle_expires_at > now()
    ORDER BY s.created_at DESC, s.id"
);
/// A password change by a live bearer (user `$1`, session `$2`) while the
/// account still holds `$8`, the hash the current password was checked
/// against (re-read once the row is ours, so a reset committing meanwhile
/// wins): the new hash `$3`, the end of the user's other sessions, the refund of the
/// attempt's reservation (throttle row `$4`) and the event (`$5`–`$7`),
/// atomically. One row: whether it happened.
pub const CHANGE_PASSWORD: &str = concat!(
    "WITH bearer AS (SELECT ",
    live_bearer!(),
    r#" AS live),
    changed AS (
        UPDATE "user" SET password = $3::varchar, updated_at = now()
        WHERE id = $1 AND password = $8::varchar AND (SELECT live FROM bearer) RETURNING id),
    ended AS (
        UPDATE auth_session SET revoked_at = now(), revoked_reason = 'password_changed'
        WHERE user_id = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $2 AND EXISTS (SELECT 1 FROM changed)),
    refunded AS (
        DELETE FROM auth_login_throttle WHERE login = $4::varchar AND EXISTS (SELECT 1 FROM changed)),
    queued AS (
        INSERT INTO auth_outbox (id, event, payload) SELECT $5::varchar, $6::varchar, $7::jsonb FROM changed)
    SELECT EXISTS (SELECT 1 FROM changed)"#
);
/// A failed login: count it against the account (if any) and queue the event.
pub const LOGIN_FAILED: &str = r#"WITH counted AS (
        UPDATE "user" SET failed_login_count = failed_login_count + 1 WHERE id = $1 RETURNING id)
    INSERT INTO auth_outbox (id, event, payload) VALUES ($2, $3, $4)"#;
/// Registration: insert unless the username or (case-insensitive) e-mail
/// is taken, store the e-mail verification token (hash `$8`, ending `$9`),
/// queue the event and then `EmailVerificationRequested` (`$10`-`$12`),
/// and report which one clashed, as far as the statement's snapshot shows:
/// when a registration racing with this one took the name or address
/// first, the insert waits for it and does nothing, but neither shows
/// (then [`USERNAME_TAKEN`] asks again).
pub const REGISTER: &str = r#"WITH inserted AS (
        INSERT INTO "user" (id, username, password, email)
        SELECT $1::varchar, $2::varchar, $3::varchar, $4::varchar
        WHERE NOT EXISTS (SELECT 1 FROM "user" WHERE username = $2 OR lower(email) = lower($4))
        ON CONFLICT DO NOTHING
        RETURNING id),
    token AS (
        INSERT INTO auth_user_token (token_hash, purpose, user_id, email, expires_at)
        SELECT $8::varchar, 'email_verify', id, $4::varchar, $9::text::timestamptz FROM inserted),
    queued AS (
        INSERT INTO auth_outbox (id, event, payload)
        SELECT e.id, e.event, e.payload FROM inserted,
            (VALUES (1, $5::varchar, $6::varchar, $7::jsonb), (2, $10::varchar, $11::varchar, $12::jsonb)) AS e (n, id, event, payload)
        ORDER BY e.n RETURNING id)
    SELECT (SELECT count(*) FROM inserted)::int4 AS created,
        EXISTS (SELECT 1 FROM "user" WHERE username = $2) AS username_taken,
        EXISTS (SELECT 1 FROM "user" WHERE lower(email) = lower($4)) AS email_taken"#;
/// Whether username `$1` is taken, in a snapshot of its own.
pub const USERNAME_TAKEN: &str = r#"SELECT EXISTS (SELECT 1 FROM "user" WHERE username = $1)"#;
pub const INSERT_EVENT: &str = "INSERT INTO auth_outbox (id, event, payload) VALUES ($1, $2, $3)";
/// For the account in a `target` CTE (id, email), if any: token hash
/// `$hash` stored ending `$end` (ISO-8601 text) in place of its token of
/// `$purpose` (an upsert on the one-per-purpose index: of two requests
/// racing, the later waits and replaces the earlier's, never two live
/// tokens), and the event (`$id`, `$name`, `$body`) queued with the
/// account's id and stored address filled in.
macro_rules! issue_token {
    ($purpose:literal, $hash:literal, $end:literal, $id:literal, $name:literal, $body:literal) => {
        concat!(
            "
    issued AS (
        INSERT INTO auth_user_token (token_hash, purpose, user_id, email, expires_at)
        SELECT ", $hash, "::varchar, '", $purpose, "', id, email, ", $end, "::text::timestamptz FROM target
        ON CONFLICT (user_id, purpose) DO UPDATE SET token_hash = EXCLUDED.token_hash, email = EXCLUDED.email,
            created_at = now(), expires_at = EXCLUDED.expires_at),
    queued AS (
        INSERT INTO auth_outbox (id, event, payload)
        SELECT ", $id, "::varchar, ", $name, "::varchar,
            jsonb_set(jsonb_set(", $body, "::jsonb, '{data,user_id}', to_jsonb(id)), '{data,email}', to_jsonb(email))
        FROM target)"
        )
    };
}
/// A password-reset request for address `$1`: the account whose e-mail it
/// is (any case, an exact match first) gets token hash `$2`, ending `$3`,
/// in place of its earlier ones, and the event (`$4`-`$6`) with its id and
/// stored address filled in. An unknown address changes nothing, in the
/// same statement. One row: whether there was an account.
pub const REQUEST_PASSWORD_RESET: &str = concat!(
    r#"WITH target AS (
        SELECT id, email FROM "user" WHERE lower(email) = lower($1) ORDER BY email = $1 DESC LIMIT 1),"#,
    issue_token!("password_reset", "$2", "$3", "$4", "$5", "$6"),
    "
    SELECT EXISTS (SELECT 1 FROM target)"
);
/// A reset with the token of hash `$1`, while it lives: deleted (the
/// user's only reset token; two resets racing with it: the second finds it
/// gone), the new hash `$2` (receiving the token proves the
/// address, so an unverified one becomes verified), every session ended,
/// and the event (`$3`-`$5`) with the user's id. One row: whether it
/// happened.
pub const RESET_PASSWORD: &str = r#"WITH spent AS (
        DELETE FROM auth_user_token WHERE token_hash = $1 AND purpose = 'password_reset' AND expires_at > now()
        RETURNING user_id, email),
    changed AS (
        UPDATE "user" u SET password = $2::varchar, updated_at = now(),
            email_verified_at = COALESCE(u.email_verified_at, CASE WHEN lower(u.email) = lower(s.email) THEN now() END)
        FROM spent s WHERE u.id = s.user_id RETURNING u.id),
    ended AS (
        UPDATE auth_session SET revoked_at = now(), revoked_reason = 'password_reset'
        WHERE user_id IN (SELECT id FROM changed) AND revoked_at IS NULL),
    queued AS (
        INSERT INTO auth_outbox (id, event, payload)
        SELECT $3::varchar, $4::varchar, jsonb_set($5::jsonb, '{data,user_id}', to_jsonb(id)) FROM changed)
    SELECT EXISTS (SELECT 1 FROM changed)"#;
/// A verification with the token of hash `$1`, while it lives and names the
/// account's current address: the token deleted, the address verified,
/// the event (`$2`-`$4`) with the user's id
/// and address. One row: whether it happened.
pub const VERIFY_EMAIL: &str = r#"WITH spent AS (
        DELETE FROM auth_user_token WHERE token_hash = $1 AND purpose = 'email_verify' AND expires_at > now()
        RETURNING user_id, email),
    verified AS (
        UPDATE "user" u SET email_verified_at = COALESCE(u.email_verified_at, now())
        FROM spent s WHERE u.id = s.user_id AND lower(u.email) = lower(s.email) RETURNING u.id, u.email),
    queued AS (
        INSERT INTO auth_outbox (id, event, payload)
        SELECT $2::varchar, $3::varchar, jsonb_set(jsonb_set($4::jsonb, '{data,user_id}', to_jsonb(id)), '{data,email}', to_jsonb(email))
        FROM verified)
    SELECT EXISTS (SELECT 1 FROM verified)"#;
/// A new verification token (hash `$3`, ending `$4`) for a live bearer
/// (user `$1`, session `$2`) whose address is not verified yet, in place
/// of the earlier ones, with the event (`$5`-`$7`) and the stored address.
/// One row: whether the bearer was live, whether a token was issued,
/// whether the address was verified already.
pub const RESEND_VERIFICATION: &str = concat!(
    "WITH bearer AS (SELECT ",
    live_bearer!(),
    r#" AS live),
    target AS (
        SELECT id, email FROM "user" WHERE id = $1 AND email_verified_at IS NULL AND (SELECT live FROM bearer)),"#,
    issue_token!("email_verify", "$3", "$4", "$5", "$6", "$7"),
    r#"
    SELECT (SELECT live FROM bearer), EXISTS (SELECT 1 FROM target),
        EXISTS (SELECT 1 FROM "user" WHERE id = $1 AND email_verified_at IS NOT NULL)"#
);
/// Buckets idle `$1` seconds (full again) and login-throttle rows idle a
/// day and not locked go.
pub const PURGE_THROTTLES: &str = "WITH buckets AS (
        DELETE FROM auth_client_bucket WHERE updated_at < now() - $1::int8 * interval '1 second')
    DELETE FROM auth_login_throttle WHERE updated_at < now() - interval '1 day'
        AND (locked_until IS NULL OR locked_until < now())";
/// Gives back a login attempt's reservation (the throttle row of `$1`):
/// the password was right, but the login stops short of a session.
pub const REFUND_ATTEMPT: &str = "DELETE FROM auth_login_throttle WHERE login = $1";
/// Health: the outbox backlog and the age of its oldest row, always one row.
pub const OUTBOX_BACKLOG: &str = "SELECT count(*)::int8,
        COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8
    FROM auth_outbox WHERE published_at IS NULL";
pub const BEGIN: &str = "BEGIN";
pub const COMMIT: &str = "COMMIT";
pub const ROLLBACK: &str = "ROLLBACK";
/// Serialises publishers, so that events leave in outbox order even when
/// several requests deliver at once; it also serialises migrations.
/// Holds account `$1`'s row to the end of the transaction.
pub const LOCK_USER: &str = r#"SELECT 1 FROM "user" WHERE id = $1 FOR UPDATE"#;
/// Holds the row of the account that token hash `$1` belongs to (none for
/// an unknown token) to the end of the transaction.
pub const LOCK_TOKEN_USER: &str = r#"SELECT 1 FROM "user" WHERE id = (SELECT user_id FROM auth_user_token WHERE token_hash = $1) FOR UPDATE"#;
pub const ADVISORY_XACT_LOCK: &str = "SELECT pg_advisory_xact_lock($1)";
/// Claims the oldest pending rows for this transaction; rows another
/// instance is publishing are skipped. One row of nulls when none.
///
/// A sequence number is taken when a row is inserted but becomes visible
/// when its transaction commits, so a lower one can still be in flight
/// after a higher one is visible. The claim stops before a gap in `seq`
/// that follows a row younger than a few seconds: the writer holding the
/// missing number delivers both after its own response. An older gap is a
/// rolled-back insert and is passed.
pub const CLAIM_PENDING: &str = "WITH pending AS (
        SELECT seq, id, event, payload, created_at FROM auth_outbox
        WHERE published_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED),
    gaps AS (
        SELECT p.seq, p.created_at, COALESCE(lag(p.seq) OVER (ORDER BY p.seq),
            (SELECT max(b.seq) FROM auth_outbox b WHERE b.seq < p.seq)) AS before
        FROM pending p),
    stop AS (
        SELECT min(seq) AS seq FROM gaps
        WHERE before IS NOT NULL AND seq <> before + 1 AND created_at > now() - interval '3 seconds')
    SELECT o.seq, o.id, o.event, o.payload::text, EXTRACT(EPOCH FROM o.created_at)::int8
    FROM stop LEFT JOIN pending o ON stop.seq IS NULL OR o.seq < stop.seq
    ORDER BY o.seq";
/// Marks a claimed batch: confirmed rows published, the rest keep their
/// place with the error that held them back. A published event that
/// carried a reset or verification token (`data.token`) keeps it no
/// longer: the store holds tokens only as hashes once they are on their way.
pub const MARK_BATCH: &str = "UPDATE auth_outbox SET attempts = attempts + 1,
        published_at = CASE WHEN seq = ANY($1::int8[]) THEN now() ELSE published_at END,
        payload = CASE WHEN seq = ANY($1::int8[]) AND payload #> '{data,token}' IS NOT NULL
            THEN jsonb_set(payload, '{data,token}', 'null') ELSE payload END,
        last_error = CASE WHEN seq = ANY($1::int8[]) THEN last_error ELSE $3::text END
    WHERE seq = ANY($2::int8[])";

pub const CREATE_VERSIONS: &str = "CREATE TABLE IF NOT EXISTS auth_schema_migrations (\
    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())";
/// Touches no table: Spin plans every statement anew, and a ping planned
/// against a table cost PostgreSQL 100-160 µs more per request.
pub const PING: &str = "SELECT 1";
pub const CURRENT_VERSION: &str = "SELECT COALESCE(MAX(version), 0) FROM auth_schema_migrations";
pub const RECORD_VERSION: &str = "INSERT INTO auth_schema_migrations (version, name) VALUES ($1, $2)";
