//! A small wasmtime host that runs this project's Spin application the way
//! Spin 4.0.2 does, for integration tests and benchmarks. It is a test
//! fixture; production runs on Spin.

pub mod allowed_hosts;
pub mod chaining;
pub mod command;
pub mod compose;
pub mod manifest;
pub mod pg_types;
pub mod postgres;
pub mod profile;
pub mod routes;
pub mod runtime;
pub mod runtime_config;
pub mod server;
pub mod sqlite;
pub mod template;
pub mod variables;

#[cfg(test)]
mod parser_properties;

/// Host bindings for the Spin interfaces in `wit/world.wit`.
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "spin-host",
        imports: { default: async | trappable },
        with: {
            "spin:postgres/postgres@4.0.0.connection": crate::postgres::Connection,
            "spin:sqlite/sqlite@3.0.0.connection": crate::sqlite::Connection,
        },
    });
}

pub use profile::Profile;
pub use runtime::{App, GuestOutput, HostOptions};
pub use runtime_config::StateDir;
