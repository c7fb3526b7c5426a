//! The shadow stack of each component (the part of linear memory where Rust
//! keeps what does not fit in wasm locals): 64 KiB instead of Rust's default
//! 1 MiB. Used by the build scripts of `auth`, `amqp-bridge` and the
//! benchmarks' minimal component.
//!
//! Spin's pooling allocator clears the first 2 MiB of every instance's
//! linear memory after each request, so a memory that starts at 1 MiB costs
//! every request a megabyte of memset (README, "Performance": 1.3x on real
//! Spin). The deepest paths (PBKDF2, the largest body, JWT, delivery) run
//! under this stack in `tests/host/tests/integration/stack.rs`, and
//! `tests/bench/stack-depth` finds the smallest stack they fit in.
//! `WASM_STACK_BYTES` overrides the size, for that script.

const STACK_BYTES: u32 = 64 * 1024;

/// Links a wasm32 cdylib with the small stack; does nothing natively.
pub fn link_small_stack() {
    println!("cargo:rerun-if-env-changed=WASM_STACK_BYTES");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() != Ok("wasm32") {
        return;
    }
    let bytes = std::env::var("WASM_STACK_BYTES").ok().and_then(|v| v.parse::<u32>().ok()).unwrap_or(STACK_BYTES);
    println!("cargo:rustc-link-arg-cdylib=-zstack-size={bytes}");
}
