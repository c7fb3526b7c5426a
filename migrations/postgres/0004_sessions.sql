-- Sessions (DESIGN.md §6): one per login, kept alive by refresh tokens. The
-- refresh-token state is the newest token's generation and when it was
-- handed out; tokens themselves are never stored (src/sessions.rs).
CREATE TABLE IF NOT EXISTS auth_session (
    id varchar(36) PRIMARY KEY,
    user_id varchar(36) NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz NOT NULL DEFAULT now(),
    idle_expires_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    user_agent varchar(256),
    ip varchar(64),
    refresh_generation integer NOT NULL DEFAULT 0,
    rotated_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    revoked_reason varchar(32),
    revoked_event_id varchar(36)
);
CREATE INDEX IF NOT EXISTS auth_session_user_idx ON auth_session (user_id) WHERE revoked_at IS NULL;
