-- The password lifecycle (DESIGN.md §7): e-mail verification and password
-- reset. A token is handed out once, in its event, and kept here only as
-- its SHA-256 (src/user_tokens.rs): a copy of this table resets nothing.
-- An account holds at most one token of each purpose (a unique index, so
-- that two requests racing cannot leave two live tokens): issuing one
-- replaces the earlier; using one deletes it. Times are ISO-8601 UTC text
-- with milliseconds.
ALTER TABLE "user" ADD COLUMN email_verified_at TEXT;
CREATE TABLE IF NOT EXISTS auth_user_token (
    token_hash VARCHAR(64) NOT NULL PRIMARY KEY,
    purpose VARCHAR(16) NOT NULL CHECK (purpose IN ('password_reset', 'email_verify')),
    user_id VARCHAR(36) NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
    -- The address the token was sent to: verifying it verifies this one.
    email VARCHAR(320) NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    expires_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS auth_user_token_one_per_purpose ON auth_user_token (user_id, purpose);
-- Registration gains its verification token and EmailVerificationRequested,
-- queued after UserRegistered.
DROP VIEW IF EXISTS auth_register;
CREATE VIEW IF NOT EXISTS auth_register AS
    SELECT '' AS id, '' AS username, '' AS password, '' AS email, '' AS event_id, '' AS event, '' AS payload,
        '' AS token_hash, '' AS expires_at, '' AS verify_event_id, '' AS verify_event, '' AS verify_payload WHERE 0;
CREATE TRIGGER IF NOT EXISTS auth_register_unit INSTEAD OF INSERT ON auth_register
BEGIN
    INSERT INTO "user" (id, username, password, email, created_at, updated_at)
        SELECT NEW.id, NEW.username, NEW.password, NEW.email,
            strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
        WHERE NOT EXISTS (SELECT 1 FROM "user" WHERE username = NEW.username OR lower(email) = lower(NEW.email));
    INSERT INTO auth_outbox (id, event, payload)
        SELECT NEW.event_id, NEW.event, NEW.payload WHERE EXISTS (SELECT 1 FROM "user" WHERE id = NEW.id);
    INSERT INTO auth_user_token (token_hash, purpose, user_id, email, expires_at)
        SELECT NEW.token_hash, 'email_verify', NEW.id, NEW.email, NEW.expires_at
        WHERE EXISTS (SELECT 1 FROM auth_outbox WHERE id = NEW.event_id);
    INSERT INTO auth_outbox (id, event, payload)
        SELECT NEW.verify_event_id, NEW.verify_event, NEW.verify_payload
        WHERE EXISTS (SELECT 1 FROM auth_outbox WHERE id = NEW.event_id);
END;
-- A reset request for an address: the account whose e-mail it is (any
-- case, an exact match first) gets a new token and the event, with its id
-- and stored address filled in; an unknown address changes nothing.
CREATE VIEW IF NOT EXISTS auth_password_forgot AS
    SELECT '' AS email, '' AS token_hash, '' AS expires_at, '' AS event_id, '' AS event, '' AS payload WHERE 0;
CREATE TRIGGER IF NOT EXISTS auth_password_forgot_unit INSTEAD OF INSERT ON auth_password_forgot
BEGIN
    INSERT INTO auth_outbox (id, event, payload)
        SELECT NEW.event_id, NEW.event, json_set(NEW.payload, '$.data.user_id', u.id, '$.data.email', u.email)
        FROM "user" u WHERE lower(u.email) = lower(NEW.email) ORDER BY u.email = NEW.email DESC LIMIT 1;
    DELETE FROM auth_user_token WHERE purpose = 'password_reset'
        AND user_id = (SELECT json_extract(payload, '$.data.user_id') FROM auth_outbox WHERE id = NEW.event_id);
    INSERT INTO auth_user_token (token_hash, purpose, user_id, email, expires_at)
        SELECT NEW.token_hash, 'password_reset', json_extract(payload, '$.data.user_id'),
            json_extract(payload, '$.data.email'), NEW.expires_at
        FROM auth_outbox WHERE id = NEW.event_id;
END;
-- A reset with a live token: the event first (it proves the token), then
-- the new hash (receiving the token proves the address, so an unverified
-- one becomes verified), every session ended, and the user's reset tokens
-- deleted, this one included.
CREATE VIEW IF NOT EXISTS auth_password_reset AS
    SELECT '' AS token_hash, '' AS new_hash, '' AS event_id, '' AS event, '' AS payload WHERE 0;
CREATE TRIGGER IF NOT EXISTS auth_password_reset_unit INSTEAD OF INSERT ON auth_password_reset
BEGIN
    INSERT INTO auth_outbox (id, event, payload)
        SELECT NEW.event_id, NEW.event, json_set(NEW.payload, '$.data.user_id', t.user_id)
        FROM auth_user_token t WHERE t.token_hash = NEW.token_hash AND t.purpose = 'password_reset'
            AND t.expires_at > strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
            AND EXISTS (SELECT 1 FROM "user" WHERE id = t.user_id);
    UPDATE "user" SET password = NEW.new_hash, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
        email_verified_at = coalesce(email_verified_at, CASE WHEN lower(email) =
            lower((SELECT email FROM auth_user_token WHERE token_hash = NEW.token_hash))
            THEN strftime('%Y-%m-%dT%H:%M:%fZ', 'now') END)
        WHERE id = (SELECT json_extract(payload, '$.data.user_id') FROM auth_outbox WHERE id = NEW.event_id);
    UPDATE auth_session SET revoked_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), revoked_reason = 'password_reset'
        WHERE revoked_at IS NULL
            AND user_id = (SELECT json_extract(payload, '$.data.user_id') FROM auth_outbox WHERE id = NEW.event_id);
    DELETE FROM auth_user_token WHERE purpose = 'password_reset'
        AND user_id = (SELECT json_extract(payload, '$.data.user_id') FROM auth_outbox WHERE id = NEW.event_id);
END;
-- A verification with a live token for the account's current address: the
-- event, the address marked verified, the user's verification tokens
-- deleted.
CREATE VIEW IF NOT EXISTS auth_email_verify AS
    SELECT '' AS token_hash, '' AS event_id, '' AS event, '' AS payload WHERE 0;
CREATE TRIGGER IF NOT EXISTS auth_email_verify_unit INSTEAD OF INSERT ON auth_email_verify
BEGIN
    INSERT INTO auth_outbox (id, event, payload)
        SELECT NEW.event_id, NEW.event, json_set(NEW.payload, '$.data.user_id', u.id, '$.data.email', u.email)
        FROM auth_user_token t JOIN "user" u ON u.id = t.user_id AND lower(u.email) = lower(t.email)
        WHERE t.token_hash = NEW.token_hash AND t.purpose = 'email_verify'
            AND t.expires_at > strftime('%Y-%m-%dT%H:%M:%fZ', 'now');
    UPDATE "user" SET email_verified_at = coalesce(email_verified_at, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        WHERE id = (SELECT json_extract(payload, '$.data.user_id') FROM auth_outbox WHERE id = NEW.event_id);
    DELETE FROM auth_user_token WHERE purpose = 'email_verify'
        AND user_id = (SELECT json_extract(payload, '$.data.user_id') FROM auth_outbox WHERE id = NEW.event_id);
END;
-- A new verification token for a live bearer (session_id null for a token
-- without one) whose address is not verified yet: the event with the
-- stored address, then the token in place of the earlier ones.
CREATE VIEW IF NOT EXISTS auth_email_resend AS
    SELECT '' AS user_id, '' AS session_id, '' AS token_hash, '' AS expires_at, '' AS event_id, '' AS event, '' AS payload WHERE 0;
CREATE TRIGGER IF NOT EXISTS auth_email_resend_unit INSTEAD OF INSERT ON auth_email_resend
BEGIN
    INSERT INTO auth_outbox (id, event, payload)
        SELECT NEW.event_id, NEW.event, json_set(NEW.payload, '$.data.email', u.email)
        FROM "user" u WHERE u.id = NEW.user_id AND u.email_verified_at IS NULL
            AND (NEW.session_id IS NULL OR EXISTS (SELECT 1 FROM auth_session WHERE id = NEW.session_id
                AND user_id = NEW.user_id AND revoked_at IS NULL AND expires_at > strftime('%Y-%m-%dT%H:%M:%fZ', 'now')));
    DELETE FROM auth_user_token WHERE purpose = 'email_verify' AND user_id = NEW.user_id
        AND EXISTS (SELECT 1 FROM auth_outbox WHERE id = NEW.event_id);
    INSERT INTO auth_user_token (token_hash, purpose, user_id, email, expires_at)
        SELECT NEW.token_hash, 'email_verify', u.id, u.email, NEW.expires_at
        FROM "user" u WHERE u.id = NEW.user_id AND EXISTS (SELECT 1 FROM auth_outbox WHERE id = NEW.event_id);
END;
