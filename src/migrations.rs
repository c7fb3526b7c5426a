//! Versioned schema migrations, one folder per dialect
//! (`migrations/postgres/`, `migrations/sqlite/`) with the same versions and
//! names, so that both schemas move in step. Each store applies them in one
//! transaction that serialises migrators (an advisory lock on PostgreSQL,
//! the writer lock on SQLite), so many instances can run them at once.
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
    /// comment lines dropped; a `CREATE TRIGGER` runs to its `END;` line,
    /// and a `$$`-quoted function body to the line that closes it. The
    /// files keep to that form.
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
            let in_trigger = current.trim_start().to_ascii_uppercase().starts_with("CREATE TRIGGER");
            let in_body = current.matches("$$").count() % 2 == 1;
            let ends = if in_trigger { trimmed.eq_ignore_ascii_case("END;") } else { trimmed.ends_with(';') && !in_body };
            if ends {
                let statement = current.trim();
                let statement = if in_trigger { statement } else { statement.trim_end_matches(';') };
                statements.push(statement.to_owned());
                current.clear();
            }
        }
        if !current.trim().is_empty() {
            statements.push(current.trim().to_owned());
        }
        statements
    }
}

/// PostgreSQL's migrations, in order.
pub const POSTGRES: &[Migration] = &[
    Migration { version: 1, name: "flask_user_table", sql: include_str!("../migrations/postgres/0001_flask_user_table.sql") },
    Migration { version: 2, name: "user_account_columns", sql: include_str!("../migrations/postgres/0002_user_account_columns.sql") },
    Migration { version: 3, name: "event_outbox", sql: include_str!("../migrations/postgres/0003_event_outbox.sql") },
    Migration { version: 4, name: "sessions", sql: include_str!("../migrations/postgres/0004_sessions.sql") },
    Migration { version: 5, name: "signing_keys", sql: include_str!("../migrations/postgres/0005_signing_keys.sql") },
    Migration { version: 6, name: "login_throttle", sql: include_str!("../migrations/postgres/0006_login_throttle.sql") },
    Migration { version: 7, name: "password_lifecycle", sql: include_str!("../migrations/postgres/0007_password_lifecycle.sql") },
    Migration { version: 8, name: "client_throttle", sql: include_str!("../migrations/postgres/0008_client_throttle.sql") },
    Migration { version: 9, name: "session_user_function", sql: include_str!("../migrations/postgres/0009_session_user_function.sql") },
];

/// SQLite's migrations: the same versions and names as [`POSTGRES`].
pub const SQLITE: &[Migration] = &[
    Migration { version: 1, name: "flask_user_table", sql: include_str!("../migrations/sqlite/0001_flask_user_table.sql") },
    Migration { version: 2, name: "user_account_columns", sql: include_str!("../migrations/sqlite/0002_user_account_columns.sql") },
    Migration { version: 3, name: "event_outbox", sql: include_str!("../migrations/sqlite/0003_event_outbox.sql") },
    Migration { version: 4, name: "sessions", sql: include_str!("../migrations/sqlite/0004_sessions.sql") },
    Migration { version: 5, name: "signing_keys", sql: include_str!("../migrations/sqlite/0005_signing_keys.sql") },
    Migration { version: 6, name: "login_throttle", sql: include_str!("../migrations/sqlite/0006_login_throttle.sql") },
    Migration { version: 7, name: "password_lifecycle", sql: include_str!("../migrations/sqlite/0007_password_lifecycle.sql") },
    Migration { version: 8, name: "client_throttle", sql: include_str!("../migrations/sqlite/0008_client_throttle.sql") },
    Migration { version: 9, name: "session_user_function", sql: include_str!("../migrations/sqlite/0009_session_user_function.sql") },
];

/// The schema version both dialects reach.
pub fn latest_version() -> i32 {
    POSTGRES.last().map_or(0, |m| m.version)
}

/// Migrations of `dialect` newer than `current`, in order.
pub fn pending(dialect: &'static [Migration], current: i32) -> impl Iterator<Item = &'static Migration> {
    dialect.iter().filter(move |m| m.version > current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_increasing_and_files_split_into_statements() {
        for dialect in [POSTGRES, SQLITE] {
            let versions: Vec<i32> = dialect.iter().map(|m| m.version).collect();
            assert_eq!(versions, (1..=dialect.len() as i32).collect::<Vec<_>>());
            for m in dialect {
                for s in m.statements() {
                    let trigger = s.starts_with("CREATE TRIGGER");
                    let function = s.starts_with("CREATE OR REPLACE FUNCTION");
                    assert!(trigger || function || !s.contains(';'), "{}: {s}", m.name);
                    assert!(!function || s.ends_with("$$"), "{}: {s}", m.name);
                    assert!(!trigger || s.ends_with("END;"), "{}: {s}", m.name);
                    assert!(!s.starts_with("--"), "{}: {s}", m.name);
                }
            }
        }
        // Each version does something in at least one dialect.
        for (pg, lite) in POSTGRES.iter().zip(SQLITE) {
            assert!(!pg.statements().is_empty() || !lite.statements().is_empty(), "{}", pg.name);
        }
        assert_eq!(POSTGRES[1].statements().len(), 6);
        let function = POSTGRES[8].statements();
        assert_eq!(function.len(), 1, "{function:#?}");
        assert_eq!(function[0].matches(';').count(), 2, "the body's own statement and END's");
        let triggers: Vec<String> = SQLITE[2].statements().into_iter().filter(|s| s.starts_with("CREATE TRIGGER")).collect();
        assert_eq!(triggers.len(), 3);
        assert!(triggers.iter().all(|t| t.matches(';').count() == 3), "{triggers:#?}");
        let triggers: Vec<String> = SQLITE[3].statements().into_iter().filter(|s| s.starts_with("CREATE TRIGGER")).collect();
        assert_eq!(triggers.len(), 3, "{triggers:#?}");
    }

    #[test]
    fn both_dialects_have_the_same_versions_and_names() {
        let of = |d: &[Migration]| d.iter().map(|m| (m.version, m.name)).collect::<Vec<_>>();
        assert_eq!(of(POSTGRES), of(SQLITE));
        assert_eq!(latest_version(), SQLITE.last().unwrap().version);
    }

    #[test]
    fn pending_skips_applied_versions() {
        assert_eq!(pending(POSTGRES, 0).count(), POSTGRES.len());
        assert_eq!(pending(SQLITE, 2).map(|m| m.version).collect::<Vec<_>>(), [3, 4, 5, 6, 7, 8, 9]);
        assert_eq!(pending(POSTGRES, 99).count(), 0);
    }
}
