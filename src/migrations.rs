//! Versioned schema migrations, applied in one transaction under a
//! PostgreSQL advisory lock so that many instances can run them at once.
//!
//! They run when a statement fails for a missing table or column (then the
//! statement is retried once), or on `POST /admin/migrate`; there is no
//! per-request schema check.

/// One migration: a version and the statements of its file.
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    sql: &'static str,
}

impl Migration {
    /// The file's statements: split at semicolons that end a line, with
    /// comment lines dropped. The files keep to that form.
    pub fn statements(&self) -> Vec<String> {
        let mut statements = Vec::new();
        let mut current = String::new();
        for line in self.sql.lines() {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with("--") {
                continue;
            }
            current.push_str(line);
            current.push('\n');
            if trimmed.ends_with(';') {
                statements.push(current.trim().trim_end_matches(';').to_owned());
                current.clear();
            }
        }
        if !current.trim().is_empty() {
            statements.push(current.trim().to_owned());
        }
        statements
    }
}

pub const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "flask_user_table", sql: include_str!("../migrations/0001_flask_user_table.sql") },
    Migration { version: 2, name: "user_account_columns", sql: include_str!("../migrations/0002_user_account_columns.sql") },
    Migration { version: 3, name: "event_outbox", sql: include_str!("../migrations/0003_event_outbox.sql") },
];

/// Key of the transaction-scoped advisory lock that serialises migrations.
pub const LOCK_KEY: i64 = 0x6175_7468_6d69_67; // "authmig"

pub mod sql {
    pub const BEGIN: &str = "BEGIN";
    pub const COMMIT: &str = "COMMIT";
    pub const ROLLBACK: &str = "ROLLBACK";
    pub const LOCK: &str = "SELECT pg_advisory_xact_lock($1)";
    pub const CREATE_VERSIONS: &str = "CREATE TABLE IF NOT EXISTS auth_schema_migrations (\
        version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())";
    pub const CURRENT_VERSION: &str = "SELECT COALESCE(MAX(version), 0) FROM auth_schema_migrations";
    pub const RECORD: &str = "INSERT INTO auth_schema_migrations (version, name) VALUES ($1, $2)";
}

/// Migrations newer than `current`, in order.
pub fn pending(current: i32) -> impl Iterator<Item = &'static Migration> {
    MIGRATIONS.iter().filter(move |m| m.version > current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_increasing_and_files_split_into_statements() {
        let versions: Vec<i32> = MIGRATIONS.iter().map(|m| m.version).collect();
        assert_eq!(versions, (1..=MIGRATIONS.len() as i32).collect::<Vec<_>>());
        for m in MIGRATIONS {
            let statements = m.statements();
            assert!(!statements.is_empty(), "{}", m.name);
            for s in statements {
                assert!(!s.contains(';') && !s.starts_with("--"), "{}: {s}", m.name);
            }
        }
        assert_eq!(MIGRATIONS[1].statements().len(), 6);
    }

    #[test]
    fn pending_skips_applied_versions() {
        assert_eq!(pending(0).count(), MIGRATIONS.len());
        assert_eq!(pending(2).map(|m| m.version).collect::<Vec<_>>(), [3]);
        assert_eq!(pending(99).count(), 0);
    }
}
