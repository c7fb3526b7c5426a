-- Columns this service adds: all nullable or defaulted, so rows the Flask
-- service wrote stay valid and it can keep writing. Times are ISO-8601 UTC
-- text. SQLite cannot add a column with a non-constant default, so the
-- existing rows get their stamps here and new ones from the service.
ALTER TABLE "user" ADD COLUMN created_at TEXT;
ALTER TABLE "user" ADD COLUMN updated_at TEXT;
ALTER TABLE "user" ADD COLUMN last_login_at TEXT;
ALTER TABLE "user" ADD COLUMN failed_login_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE "user" ADD COLUMN locked_until TEXT;
UPDATE "user" SET created_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now');
-- Logins look e-mails up case-insensitively; not unique, because rows the
-- Flask service wrote may differ only in case.
CREATE INDEX IF NOT EXISTS user_lower_email_idx ON "user" (lower(email));
