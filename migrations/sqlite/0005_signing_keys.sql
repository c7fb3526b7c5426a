-- Asymmetric signing keys (DESIGN.md §6, src/signing_keys.rs). A key signs
-- from activates_at until signs_until (null: until a rotation) and verifies,
-- and is published, until verifies_until (null: for as long as it signs).
-- The private half is sealed under a key derived from secret_key. Times are
-- ISO-8601 UTC text.
CREATE TABLE IF NOT EXISTS auth_signing_key (
    kid VARCHAR(64) NOT NULL PRIMARY KEY,
    alg VARCHAR(8) NOT NULL,
    public_jwk TEXT NOT NULL,
    private_key TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    activates_at TEXT NOT NULL,
    signs_until TEXT,
    verifies_until TEXT
);
CREATE INDEX IF NOT EXISTS auth_signing_key_alg_idx ON auth_signing_key (alg, activates_at);
-- A new key (a rotation, or the first key of an algorithm) in one statement:
-- the keys that sign now stop when it starts (activation_seconds from now)
-- and verify for grace_seconds more; keys past their last use are deleted.
CREATE VIEW IF NOT EXISTS auth_signing_key_added AS
    SELECT '' AS kid, '' AS alg, '' AS public_jwk, '' AS private_key, 0 AS activation_seconds, 0 AS grace_seconds WHERE 0;
CREATE TRIGGER IF NOT EXISTS auth_signing_key_added_unit INSTEAD OF INSERT ON auth_signing_key_added
BEGIN
    DELETE FROM auth_signing_key WHERE verifies_until < strftime('%Y-%m-%dT%H:%M:%fZ', 'now');
    UPDATE auth_signing_key SET
        signs_until = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+' || NEW.activation_seconds || ' seconds'),
        verifies_until = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+' || (NEW.activation_seconds + NEW.grace_seconds) || ' seconds')
        WHERE signs_until IS NULL;
    INSERT INTO auth_signing_key (kid, alg, public_jwk, private_key, activates_at)
        VALUES (NEW.kid, NEW.alg, NEW.public_jwk, NEW.private_key,
            strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+' || NEW.activation_seconds || ' seconds'));
END;
