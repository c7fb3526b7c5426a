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
-- A password change by a live bearer (session_id null for a token without
-- one): the event is queued only when the bearer is live; then the new
-- hash, the end of the user's other sessions and the refund of the
-- attempt's reservation, all in the statement that inserts here.
CREATE VIEW IF NOT EXISTS auth_password_change AS
    SELECT '' AS user_id, '' AS session_id, '' AS new_hash, '' AS login, '' AS event_id, '' AS event, '' AS payload WHERE 0;
CREATE TRIGGER IF NOT EXISTS auth_password_change_unit INSTEAD OF INSERT ON auth_password_change
BEGIN
    INSERT INTO auth_outbox (id, event, payload)
        SELECT NEW.event_id, NEW.event, NEW.payload
        WHERE EXISTS (SELECT 1 FROM "user" WHERE id = NEW.user_id)
            AND (NEW.session_id IS NULL OR EXISTS (SELECT 1 FROM auth_session WHERE id = NEW.session_id
                AND user_id = NEW.user_id AND revoked_at IS NULL AND expires_at > strftime('%Y-%m-%dT%H:%M:%fZ', 'now')));
    UPDATE "user" SET password = NEW.new_hash, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
        WHERE id = NEW.user_id AND EXISTS (SELECT 1 FROM auth_outbox WHERE id = NEW.event_id);
    UPDATE auth_session SET revoked_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), revoked_reason = 'password_changed'
        WHERE user_id = NEW.user_id AND revoked_at IS NULL AND id IS NOT NEW.session_id
            AND EXISTS (SELECT 1 FROM auth_outbox WHERE id = NEW.event_id);
    DELETE FROM auth_login_throttle WHERE login = NEW.login AND EXISTS (SELECT 1 FROM auth_outbox WHERE id = NEW.event_id);
END;
