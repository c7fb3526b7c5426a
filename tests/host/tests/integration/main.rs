//! Integration tests: the real `auth.wasm` under the test host against the
//! real PostgreSQL on 127.0.0.1 and Spin's SQLite store in a state directory
//! of each test's own; most tests run once on each (`on_both_stores!`).
//! Build the component first (`scripts/test` does).

mod support;

mod accounts;
mod client_throttle;
mod config;
mod cors;
mod delivery;
mod delivery_faults;
mod flask_compat;
mod health;
mod hostile;
mod imported_hashes;
mod host_postgres;
mod migrations;
mod password_change;
mod password_lifecycle;
mod permissions;
mod routing;
mod server;
mod sessions;
mod signing_keys;
mod spin_profile;
mod sqlite_store;
mod stack;
mod throttle;
