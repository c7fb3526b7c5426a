-- Throttling by client (DESIGN.md §7): a token bucket per client address
-- (src/client_throttle.rs) on the costly POSTs. A bucket untouched long
-- enough to be full again says nothing and is purged now and then, as are
-- login-throttle rows idle for a day.
CREATE TABLE IF NOT EXISTS auth_client_bucket (
    client varchar(64) PRIMARY KEY,
    tokens float8 NOT NULL,
    admitted boolean NOT NULL DEFAULT true,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS auth_client_bucket_updated_idx ON auth_client_bucket (updated_at);
CREATE INDEX IF NOT EXISTS auth_login_throttle_updated_idx ON auth_login_throttle (updated_at);
