-- Login throttling by login name (DESIGN.md §7): every attempt reserves a
-- failure here before any hashing, in the lookup's own statement; a good
-- login deletes the row (the refund). After lockout_threshold failures the
-- name is locked until locked_until, doubling with each further failure;
-- refused says whether the latest attempt came while it was locked.
CREATE TABLE IF NOT EXISTS auth_login_throttle (
    login varchar(320) PRIMARY KEY,
    failures integer NOT NULL DEFAULT 0,
    locked_until timestamptz,
    refused boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now()
);
