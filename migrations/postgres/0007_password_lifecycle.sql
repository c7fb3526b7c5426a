-- The password lifecycle (DESIGN.md §7): e-mail verification and password
-- reset. A token is handed out once, in its event, and kept here only as
-- its SHA-256 (src/user_tokens.rs): a copy of this table resets nothing.
-- An account holds at most one token of each purpose (a unique index, so
-- that two requests racing cannot leave two live tokens): issuing one
-- replaces the earlier; using one deletes it.
ALTER TABLE "user" ADD COLUMN IF NOT EXISTS email_verified_at timestamptz;
CREATE TABLE IF NOT EXISTS auth_user_token (
    token_hash varchar(64) PRIMARY KEY,
    purpose varchar(16) NOT NULL CHECK (purpose IN ('password_reset', 'email_verify')),
    user_id varchar(36) NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
    -- The address the token was sent to: verifying it verifies this one.
    email varchar(320) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS auth_user_token_one_per_purpose ON auth_user_token (user_id, purpose);
