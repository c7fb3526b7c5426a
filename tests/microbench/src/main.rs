#![allow(dead_code)] // The component's modules are compiled in whole; the benchmark uses part.
//! Times the code that runs inside the sandbox, the same source built
//! natively and for wasm32-wasip2 (`tests/bench/micro` runs both and prints
//! the wasm/native ratios). Prints one JSON object per measurement.

#[path = "../../../src/passwords.rs"]
mod passwords;
#[path = "../../../src/tokens.rs"]
mod tokens;

use passwords::Hasher;
use tokens::{TokenKey, UserClaims};
use std::hint::black_box;
use std::time::Instant;

/// Runs `f` `n` times; returns microseconds per run (best of three rounds).
fn time(n: u32, mut f: impl FnMut()) -> f64 {
    (0..3)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..n {
                f();
            }
            started.elapsed().as_secs_f64() * 1e6 / f64::from(n)
        })
        .fold(f64::INFINITY, f64::min)
}

fn report(name: &str, micros: f64) {
    println!("{}", serde_json::json!({"name": name, "micros": micros}));
}

fn main() {
    // A login's PBKDF2 work: verifying against a missing account does the
    // same 600,000 iterations as a real check, by design.
    let hasher = Hasher::new(passwords::MIN_ITERATIONS).expect("valid iterations");
    report("PBKDF2-HMAC-SHA256, 600,000 iterations", time(3, || {
        black_box(hasher.verify(black_box("correct horse battery"), None));
    }));

    let key = TokenKey::new(b"benchmark-secret-key-0123456789abcdef").expect("long key");
    let claims = UserClaims { user_id: "6f1c2a9e-5a0b-4d8e-9a77-0c7f1f0b2c11".into(), username: "alice".into(), sid: None };
    let token = key.issue(claims.clone(), 3600, "jti".into(), "auth-service").expect("sign");
    report("HS256 sign", time(20_000, || {
        black_box(key.issue(black_box(claims.clone()), 3600, "jti".into(), "auth-service").expect("sign"));
    }));
    report("HS256 verify", time(20_000, || {
        black_box(key.verify(black_box(&token)).expect("valid"));
    }));

    let body = br#"{"username":"alice@example.com","password":"correct horse battery"}"#;
    report("JSON parse of a login body", time(200_000, || {
        let value: serde_json::Value = serde_json::from_slice(black_box(body)).expect("json");
        black_box(value);
    }));
}
