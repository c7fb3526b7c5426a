//! How the host instantiates and serves components.
//!
//! `Fast` (the default) is what the tests and most benchmark rows use: warm
//! database connections, dirtied pages reset by hand, variables resolved
//! once at startup. `Spin` does per request what Spin 4.0.2 does, read from
//! its source (`crates/core`, `crates/expressions`, `crates/variables-env`,
//! `crates/factor-outbound-networking`, `crates/factor-outbound-pg`), so
//! that `tests/bench/load` can show the per-instance cost users pay:
//!
//! - Spin's pooling allocator: its limits, 2 MiB of each linear memory and
//!   512 KiB of each table kept resident and cleared in full after every
//!   instance (no tracking of dirtied pages), copy-on-write memory images;
//! - epoch interruption with a 10 ms ticker thread, the deadline Spin sets,
//!   and an async resource limiter on every store;
//! - on an instance's first outbound connection (PostgreSQL or a socket),
//!   every application variable resolved through the provider, each lookup
//!   on `block_in_place` as Spin's environment provider does it; and each
//!   `variables::get` resolved through the provider the same way;
//! - PostgreSQL sessions reset at every checkout and statements prepared on
//!   every call; SQLite connections opened anew for every `open`.
//!
//! What it cannot copy: Spin's other factors' per-instance state, its
//! tracing, and its allocator (this host's is mimalloc, process-wide).

use anyhow::{bail, Result};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use wasmtime::{Config, Enabled, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Which way the host runs components.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Profile {
    #[default]
    Fast,
    Spin,
}

impl Profile {
    /// The environment variable `spin-test-host up` reads (`--profile` wins).
    pub const ENV: &'static str = "SPIN_TEST_HOST_PROFILE";

    pub fn parse(name: &str) -> Result<Profile> {
        match name {
            "" | "fast" => Ok(Profile::Fast),
            "spin" => Ok(Profile::Spin),
            other => bail!("unknown test host profile {other:?}: expected `fast` or `spin`"),
        }
    }

    /// The profile named by `SPIN_TEST_HOST_PROFILE`, `Fast` when unset.
    pub fn from_env() -> Result<Profile> {
        Profile::parse(&std::env::var(Self::ENV).unwrap_or_default())
    }

    /// The engine configuration of this profile.
    pub fn engine_config(self) -> Config {
        let mut pooling = PoolingAllocationConfig::default();
        let mut config = Config::new();
        match self {
            Profile::Fast => {
                // Between requests, reset only the pages a request dirtied
                // (found with Linux's PAGEMAP_SCAN, 6.7 and later) and keep
                // them mapped, instead of madvise and copy-on-write faults:
                // each of those flushes the TLB of every core running the
                // host, and on this VM those flushes took a third of the
                // host's CPU. Doubled requests/s (README, Performance).
                pooling
                    .max_memory_size(256 << 20)
                    .pagemap_scan(Enabled::Auto)
                    .linear_memory_keep_resident(4 << 20)
                    .table_keep_resident(4 << 20);
            }
            Profile::Spin => {
                // Spin 4.0.2's defaults (`crates/core/src/lib.rs`), derived
                // from 1,000 instances.
                const MB: usize = 1 << 20;
                pooling
                    .total_component_instances(1_000)
                    .total_memories(1_000)
                    .total_tables(2_000)
                    .total_stacks(1_000)
                    .total_core_instances(4_000)
                    .table_elements(100_000)
                    .max_component_instance_size(10 * MB)
                    .max_core_instance_size(10 * MB)
                    .max_core_instances_per_component(200)
                    .max_tables_per_component(64)
                    .max_memories_per_component(32)
                    .max_tables_per_module(2)
                    .max_memories_per_module(2)
                    .max_memory_size(4 << 30)
                    .pagemap_scan(Enabled::No)
                    .linear_memory_keep_resident(2 * MB)
                    .table_keep_resident(MB / 2);
                config.epoch_interruption(true);
            }
        }
        // `SPIN_TEST_HOST_POOL=<n>`: n slots of each kind instead. The
        // default pool reserves about 4 TiB of address space, more than
        // valgrind (used by `tests/bench/component`) can map.
        if let Some(slots) = std::env::var("SPIN_TEST_HOST_POOL").ok().and_then(|n| n.parse::<u32>().ok()) {
            pooling
                .total_component_instances(slots)
                .total_core_instances(slots)
                .total_memories(slots)
                .total_tables(slots)
                .total_stacks(slots);
        }
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
        config
    }

    /// Starts what an engine of this profile needs beside it: Spin's epoch
    /// ticker thread, which advances the epoch every 10 ms.
    pub fn start_engine_threads(self, engine: &wasmtime::Engine) {
        if self == Profile::Spin {
            let engine = engine.weak();
            std::thread::spawn(move || {
                while let Some(engine) = engine.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(Duration::from_millis(10));
                }
            });
        }
    }

    /// Sets up a new store as Spin's `StoreBuilder` does.
    pub fn configure_store(self, store: &mut wasmtime::Store<crate::runtime::RequestState>) {
        if self == Profile::Spin {
            store.limiter_async(|state| &mut state.limits);
            // Spin's "practically forever": the deadline must be set, or
            // epoch interruption traps at once.
            store.set_epoch_deadline(u64::MAX / 2);
        }
    }
}

/// Spin's per-store limiter with no limit configured: every memory and
/// table growth goes through it, as under Spin, and is allowed.
#[derive(Default)]
pub struct StoreLimits;

#[async_trait::async_trait]
impl wasmtime::ResourceLimiterAsync for StoreLimits {
    async fn memory_growing(&mut self, _current: usize, _desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(true)
    }

    async fn table_growing(&mut self, _current: usize, _desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

/// Runs a provider lookup as Spin's environment provider does: on
/// `block_in_place`, which hands the worker's other tasks to another
/// thread. (A current-thread runtime, as some tests use, cannot do that.)
pub fn blocking<R>(lookup: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(lookup),
        _ => lookup(),
    }
}

/// How many provider lookups the host has made, for tests and benchmarks.
#[derive(Default, Debug)]
pub struct LookupCounter(AtomicU64);

impl LookupCounter {
    pub fn add(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_named_fast_and_spin() {
        assert_eq!(Profile::parse("").unwrap(), Profile::Fast);
        assert_eq!(Profile::parse("fast").unwrap(), Profile::Fast);
        assert_eq!(Profile::parse("spin").unwrap(), Profile::Spin);
        let err = Profile::parse("Spin4").unwrap_err().to_string();
        assert!(err.contains("\"Spin4\"") && err.contains("`fast` or `spin`"), "{err}");
    }

    #[test]
    fn both_profiles_make_an_engine() {
        for profile in [Profile::Fast, Profile::Spin] {
            let engine = wasmtime::Engine::new(&profile.engine_config());
            assert!(engine.is_ok(), "{profile:?}: {:?}", engine.err());
        }
    }
}
