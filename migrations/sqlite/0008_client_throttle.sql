-- Throttling by client (DESIGN.md §7): a token bucket per client address
-- (src/client_throttle.rs) on the costly POSTs; updated_at in Unix seconds
-- with fractions. A bucket untouched long enough to be full again says
-- nothing and is purged now and then, as are login-throttle rows idle for
-- a day.
CREATE TABLE IF NOT EXISTS auth_client_bucket (
    client VARCHAR(64) NOT NULL PRIMARY KEY,
    tokens REAL NOT NULL,
    admitted INTEGER NOT NULL DEFAULT 1,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS auth_client_bucket_updated_idx ON auth_client_bucket (updated_at);
CREATE INDEX IF NOT EXISTS auth_login_throttle_updated_idx ON auth_login_throttle (updated_at);
-- A login's first step is one statement, the upsert of its throttle row
-- (src/store/sqlite_sql.rs, FIND_LOGIN_USER). The attempt carries its
-- client and the bucket's terms in these columns (the latest attempt's
-- stay), and this trigger takes the client's token before the row is
-- written, or abandons the row when the bucket is empty (the statement
-- then returns nothing and counts nothing). The bucket's arithmetic is
-- TAKE_CLIENT_TOKEN's.
ALTER TABLE auth_login_throttle ADD COLUMN client VARCHAR(64);
ALTER TABLE auth_login_throttle ADD COLUMN client_burst REAL;
ALTER TABLE auth_login_throttle ADD COLUMN client_rate REAL;
CREATE TRIGGER IF NOT EXISTS auth_login_throttle_client BEFORE INSERT ON auth_login_throttle WHEN NEW.client IS NOT NULL
BEGIN
    INSERT INTO auth_client_bucket (client, tokens, admitted, updated_at)
        VALUES (NEW.client, NEW.client_burst - 1, 1, (julianday('now') - 2440587.5) * 86400.0)
        ON CONFLICT (client) DO UPDATE SET
            admitted = min(NEW.client_burst, tokens + ((julianday('now') - 2440587.5) * 86400.0 - updated_at) * NEW.client_rate) >= 1,
            tokens = min(NEW.client_burst, tokens + ((julianday('now') - 2440587.5) * 86400.0 - updated_at) * NEW.client_rate)
                - (min(NEW.client_burst, tokens + ((julianday('now') - 2440587.5) * 86400.0 - updated_at) * NEW.client_rate) >= 1),
            updated_at = (julianday('now') - 2440587.5) * 86400.0;
    SELECT RAISE(IGNORE) WHERE (SELECT admitted FROM auth_client_bucket WHERE client = NEW.client) = 0;
END;
