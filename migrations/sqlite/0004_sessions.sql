-- Sessions (DESIGN.md §6): one per login, kept alive by refresh tokens. The
-- refresh-token state is the newest token's generation and when it was
-- handed out; tokens themselves are never stored (src/sessions.rs). Times
-- are ISO-8601 UTC text, which compares in time order.
CREATE TABLE IF NOT EXISTS auth_session (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    user_id VARCHAR(36) NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_used_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    idle_expires_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    user_agent VARCHAR(256),
    ip VARCHAR(64),
    refresh_generation INTEGER NOT NULL DEFAULT 0,
    rotated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    revoked_at TEXT,
    revoked_reason VARCHAR(32),
    revoked_event_id VARCHAR(36)
);
CREATE INDEX IF NOT EXISTS auth_session_user_idx ON auth_session (user_id) WHERE revoked_at IS NULL;
-- A refresh that finds its token replayed revokes the session and names the
-- event in revoked_event_id (one UPDATE, src/store/sqlite_sql.rs); this
-- queues that event in the same statement.
CREATE TRIGGER IF NOT EXISTS auth_session_reused AFTER UPDATE OF revoked_event_id ON auth_session
    WHEN NEW.revoked_event_id IS NOT NULL AND OLD.revoked_event_id IS NULL
BEGIN
    INSERT INTO auth_outbox (id, event, payload) VALUES (NEW.revoked_event_id, 'RefreshTokenReused',
        json_object('event', 'RefreshTokenReused', 'data', json_object('user_id', NEW.user_id, 'session_id', NEW.id),
            'timestamp', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'id', NEW.revoked_event_id));
END;
-- A login that opens a session: the unit of auth_login_succeeded (through
-- its view, so that its trigger runs in this statement) plus the session
-- row.
CREATE VIEW IF NOT EXISTS auth_login_session AS
    SELECT '' AS user_id, '' AS new_hash, '' AS event_id, '' AS event, '' AS payload, '' AS session_id,
        0 AS idle_seconds, 0 AS max_seconds, '' AS user_agent, '' AS ip WHERE 0;
CREATE TRIGGER IF NOT EXISTS auth_login_session_unit INSTEAD OF INSERT ON auth_login_session
BEGIN
    INSERT INTO auth_login_succeeded (user_id, new_hash, event_id, event, payload)
        VALUES (NEW.user_id, NEW.new_hash, NEW.event_id, NEW.event, NEW.payload);
    INSERT INTO auth_session (id, user_id, idle_expires_at, expires_at, user_agent, ip)
        SELECT NEW.session_id, NEW.user_id,
            strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+' || min(NEW.idle_seconds, NEW.max_seconds) || ' seconds'),
            strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+' || NEW.max_seconds || ' seconds'), NEW.user_agent, NEW.ip
        WHERE EXISTS (SELECT 1 FROM "user" WHERE id = NEW.user_id);
END;
-- Logging out (scope local, others or global) and ending one session: the
-- event is queued only when the caller's session is live (or the caller's
-- token has none) and, for one session, when that session is the caller's
-- and live; the sessions end only when the event was queued.
CREATE VIEW IF NOT EXISTS auth_logout AS
    SELECT '' AS user_id, '' AS session_id, '' AS scope, '' AS target_id, '' AS event_id, '' AS event, '' AS payload WHERE 0;
CREATE TRIGGER IF NOT EXISTS auth_logout_unit INSTEAD OF INSERT ON auth_logout
BEGIN
    INSERT INTO auth_outbox (id, event, payload)
        SELECT NEW.event_id, NEW.event, NEW.payload
        WHERE (NEW.session_id IS NULL OR EXISTS (SELECT 1 FROM auth_session WHERE id = NEW.session_id
                AND user_id = NEW.user_id AND revoked_at IS NULL AND expires_at > strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))
            AND (NEW.target_id IS NULL OR EXISTS (SELECT 1 FROM auth_session WHERE id = NEW.target_id
                AND user_id = NEW.user_id AND revoked_at IS NULL AND expires_at > strftime('%Y-%m-%dT%H:%M:%fZ', 'now')));
    UPDATE auth_session SET revoked_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), revoked_reason = 'logout'
        WHERE user_id = NEW.user_id AND revoked_at IS NULL
            AND EXISTS (SELECT 1 FROM auth_outbox WHERE id = NEW.event_id)
            AND CASE NEW.scope WHEN 'local' THEN id = NEW.session_id WHEN 'others' THEN id IS NOT NEW.session_id
                WHEN 'session' THEN id = NEW.target_id ELSE 1 END;
END;
