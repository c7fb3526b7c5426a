-- The Flask service's table as SQLAlchemy creates it on SQLite, plus the
-- length limits that PostgreSQL's varchar(n) enforces and SQLite does not.
-- A no-op where the Flask service already made it.
CREATE TABLE IF NOT EXISTS "user" (
    id VARCHAR(36) NOT NULL PRIMARY KEY CHECK (length(id) <= 36),
    username VARCHAR(80) NOT NULL UNIQUE CHECK (length(username) <= 80),
    password VARCHAR(200) NOT NULL CHECK (length(password) <= 200),
    email VARCHAR(120) NOT NULL UNIQUE CHECK (length(email) <= 120)
);
