-- The transactional outbox: events are written here in the same transaction
-- as the change they report, then published to RabbitMQ. AUTOINCREMENT so
-- that a sequence number is never reused, like PostgreSQL's bigserial.
CREATE TABLE IF NOT EXISTS auth_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id VARCHAR(36) NOT NULL UNIQUE,
    event VARCHAR(64) NOT NULL,
    payload TEXT NOT NULL CHECK (json_valid(payload)),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    published_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS auth_outbox_pending_idx ON auth_outbox (seq) WHERE published_at IS NULL;
-- Publishers take turns so that events leave in order. PostgreSQL has an
-- advisory lock for that; here one lease row, taken and given back in short
-- write transactions, so that no writer lock is held while a batch is on
-- the network. A lease that outlives a crashed holder expires.
CREATE TABLE IF NOT EXISTS auth_outbox_publisher (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    holder TEXT,
    expires_at INTEGER NOT NULL DEFAULT 0
);
INSERT OR IGNORE INTO auth_outbox_publisher (id) VALUES (1);
-- The write units that queue events, each one statement: an INSERT into a
-- view whose INSTEAD OF trigger makes every change of the unit. One
-- statement holds the writer lock only while SQLite runs it, never while
-- the component waits between calls (on a host busy with other requests
-- that wait could outlast every writer's busy timeout).
CREATE VIEW IF NOT EXISTS auth_register AS
    SELECT '' AS id, '' AS username, '' AS password, '' AS email, '' AS event_id, '' AS event, '' AS payload WHERE 0;
CREATE TRIGGER IF NOT EXISTS auth_register_unit INSTEAD OF INSERT ON auth_register
BEGIN
    INSERT INTO "user" (id, username, password, email, created_at, updated_at)
        SELECT NEW.id, NEW.username, NEW.password, NEW.email,
            strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
        WHERE NOT EXISTS (SELECT 1 FROM "user" WHERE username = NEW.username OR lower(email) = lower(NEW.email));
    INSERT INTO auth_outbox (id, event, payload)
        SELECT NEW.event_id, NEW.event, NEW.payload WHERE EXISTS (SELECT 1 FROM "user" WHERE id = NEW.id);
END;
CREATE VIEW IF NOT EXISTS auth_login_succeeded AS
    SELECT '' AS user_id, '' AS new_hash, '' AS event_id, '' AS event, '' AS payload WHERE 0;
CREATE TRIGGER IF NOT EXISTS auth_login_succeeded_unit INSTEAD OF INSERT ON auth_login_succeeded
BEGIN
    INSERT INTO auth_outbox (id, event, payload)
        SELECT NEW.event_id, NEW.event, NEW.payload WHERE EXISTS (SELECT 1 FROM "user" WHERE id = NEW.user_id);
    UPDATE "user" SET password = COALESCE(NEW.new_hash, password),
        last_login_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), failed_login_count = 0,
        updated_at = CASE WHEN NEW.new_hash IS NULL THEN updated_at ELSE strftime('%Y-%m-%dT%H:%M:%fZ', 'now') END
        WHERE id = NEW.user_id;
END;
CREATE VIEW IF NOT EXISTS auth_login_failed AS
    SELECT '' AS user_id, '' AS event_id, '' AS event, '' AS payload WHERE 0;
CREATE TRIGGER IF NOT EXISTS auth_login_failed_unit INSTEAD OF INSERT ON auth_login_failed
BEGIN
    UPDATE "user" SET failed_login_count = failed_login_count + 1 WHERE id = NEW.user_id;
    INSERT INTO auth_outbox (id, event, payload) VALUES (NEW.event_id, NEW.event, NEW.payload);
END;
