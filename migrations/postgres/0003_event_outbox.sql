-- The transactional outbox: events are written here in the same transaction
-- as the change they report, then published to RabbitMQ.
CREATE TABLE IF NOT EXISTS auth_outbox (
    seq bigserial PRIMARY KEY,
    id varchar(36) NOT NULL UNIQUE,
    event varchar(64) NOT NULL,
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    published_at timestamptz,
    attempts integer NOT NULL DEFAULT 0,
    last_error text
);
CREATE INDEX IF NOT EXISTS auth_outbox_pending_idx ON auth_outbox (seq) WHERE published_at IS NULL;
