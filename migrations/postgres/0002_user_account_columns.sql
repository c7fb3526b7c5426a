-- Columns this service adds: all nullable or defaulted, so rows the Flask
-- service wrote stay valid and the Flask service can keep writing.
ALTER TABLE "user" ADD COLUMN IF NOT EXISTS created_at timestamptz DEFAULT now();
ALTER TABLE "user" ADD COLUMN IF NOT EXISTS updated_at timestamptz DEFAULT now();
ALTER TABLE "user" ADD COLUMN IF NOT EXISTS last_login_at timestamptz;
ALTER TABLE "user" ADD COLUMN IF NOT EXISTS failed_login_count integer NOT NULL DEFAULT 0;
ALTER TABLE "user" ADD COLUMN IF NOT EXISTS locked_until timestamptz;
-- Logins look e-mails up case-insensitively; not unique, because rows the
-- Flask service wrote may differ only in case.
CREATE INDEX IF NOT EXISTS user_lower_email_idx ON "user" (lower(email));
