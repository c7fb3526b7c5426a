-- Login throttling by login name (DESIGN.md §7): every attempt reserves a
-- failure here before any hashing, in the lookup's own statement; a good
-- login deletes the row (the refund). After lockout_threshold failures the
-- name is locked until locked_until (ISO-8601 UTC text), doubling with each
-- further failure; refused says whether the latest attempt came while it
-- was locked.
CREATE TABLE IF NOT EXISTS auth_login_throttle (
    login VARCHAR(320) NOT NULL PRIMARY KEY,
    failures INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    refused INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
-- The login-with-session unit gains the refund: the same unit, with the
-- login name whose throttle row a good login deletes.
DROP VIEW IF EXISTS auth_login_session;
CREATE VIEW IF NOT EXISTS auth_login_session AS
    SELECT '' AS user_id, '' AS new_hash, '' AS event_id, '' AS event, '' AS payload, '' AS session_id,
        0 AS idle_seconds, 0 AS max_seconds, '' AS user_agent, '' AS ip, '' AS login WHERE 0;
CREATE TRIGGER IF NOT EXISTS auth_login_session_unit INSTEAD OF INSERT ON auth_login_session
BEGIN
    INSERT INTO auth_login_succeeded (user_id, new_hash, event_id, event, payload)
        VALUES (NEW.user_id, NEW.new_hash, NEW.event_id, NEW.event, NEW.payload);
    INSERT INTO auth_session (id, user_id, idle_expires_at, expires_at, user_agent, ip)
        SELECT NEW.session_id, NEW.user_id,
            strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+' || min(NEW.idle_seconds, NEW.max_seconds) || ' seconds'),
            strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+' || NEW.max_seconds || ' seconds'), NEW.user_agent, NEW.ip
        WHERE EXISTS (SELECT 1 FROM "user" WHERE id = NEW.user_id);
    DELETE FROM auth_login_throttle WHERE login = NEW.login;
END;
