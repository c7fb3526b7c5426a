-- Asymmetric signing keys (DESIGN.md §6, src/signing_keys.rs). A key signs
-- from activates_at until signs_until (null: until a rotation) and verifies,
-- and is published, until verifies_until (null: for as long as it signs).
-- The private half is sealed under a key derived from secret_key.
CREATE TABLE IF NOT EXISTS auth_signing_key (
    kid varchar(64) PRIMARY KEY,
    alg varchar(8) NOT NULL,
    public_jwk text NOT NULL,
    private_key text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    activates_at timestamptz NOT NULL,
    signs_until timestamptz,
    verifies_until timestamptz
);
CREATE INDEX IF NOT EXISTS auth_signing_key_alg_idx ON auth_signing_key (alg, activates_at);
