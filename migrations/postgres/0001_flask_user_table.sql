-- The Flask service's table exactly as SQLAlchemy created it. A no-op where
-- the Flask service already made it.
CREATE TABLE IF NOT EXISTS "user" (
    id varchar(36) PRIMARY KEY,
    username varchar(80) NOT NULL UNIQUE,
    password varchar(200) NOT NULL,
    email varchar(120) NOT NULL UNIQUE
);
