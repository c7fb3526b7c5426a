//! The components' small shadow stacks (build.rs): the built `.wasm` files
//! have them, and the deepest paths the code has run within them. With
//! Rust's stack-first layout the stack sits at the bottom of linear memory,
//! so an overflow runs below address 0 and traps (an empty 500 from the
//! host) instead of corrupting data: a path that does not fit fails here.

use crate::delivery::broker_app;
use crate::support::broker::TestQueue;
use crate::support::store::{Backend, TestStore};
use crate::support::{workspace_root, ADMIN_TOKEN};
use anyhow::{Context, Result};
use serde_json::json;
use std::time::Duration;

/// The stack build.rs gives both components unless `WASM_STACK_BYTES`
/// overrides it (as `tests/bench/stack-depth` does).
fn expected_stack_bytes() -> u64 {
    std::env::var("WASM_STACK_BYTES").ok().and_then(|v| v.parse().ok()).unwrap_or(64 * 1024)
}

/// What a component's main core module starts with.
#[derive(Debug)]
pub struct MemoryLayout {
    /// The initial value of `__stack_pointer`: with the stack first, its size.
    pub stack_bytes: u64,
    pub initial_memory_bytes: u64,
    pub data_bytes: u64,
}

/// The layout of the core module that defines the component's memory (the
/// adapter and shim modules import theirs).
pub fn memory_layout(wasm: &[u8]) -> Result<MemoryLayout> {
    use wasmparser::{Operator, Parser, Payload};
    let mut found = None;
    // Per core module, in the order the parser meets them.
    let (mut memory, mut stack, mut data) = (None, None, 0u64);
    for payload in Parser::new(0).parse_all(wasm) {
        match payload? {
            Payload::Version { encoding: wasmparser::Encoding::Module, .. } => {
                (memory, stack, data) = (None, None, 0);
            }
            Payload::MemorySection(section) => {
                for mem in section {
                    memory.get_or_insert(mem?.initial * 65536);
                }
            }
            Payload::GlobalSection(section) => {
                for global in section {
                    let global = global?;
                    if stack.is_none() && global.ty.mutable && global.ty.content_type == wasmparser::ValType::I32 {
                        if let Some(Ok(Operator::I32Const { value })) = global.init_expr.get_operators_reader().into_iter().next() {
                            stack = Some(u64::from(value as u32));
                        }
                    }
                }
            }
            Payload::DataSection(section) => {
                for segment in section {
                    data += segment?.data.len() as u64;
                }
            }
            Payload::End(_) => {
                if let (Some(initial_memory_bytes), Some(stack_bytes)) = (memory, stack) {
                    found.get_or_insert(MemoryLayout { stack_bytes, initial_memory_bytes, data_bytes: data });
                }
            }
            _ => {}
        }
    }
    found.context("no core module defines a memory with a stack pointer")
}

fn built(name: &str) -> Result<Vec<u8>> {
    let path = workspace_root().join("target/wasm32-wasip2/release").join(name);
    std::fs::read(&path).with_context(|| format!("reading {} (built by the test command)", path.display()))
}

#[test]
fn both_components_are_built_with_the_small_stack() -> Result<()> {
    for name in ["auth.wasm", "amqp_bridge.wasm"] {
        let layout = memory_layout(&built(name)?)?;
        eprintln!("{name}: {layout:?}");
        assert_eq!(layout.stack_bytes, expected_stack_bytes(), "{name}: {layout:?}");
        assert!(layout.stack_bytes + layout.data_bytes <= layout.initial_memory_bytes, "{name}: {layout:?}");
        assert!(
            layout.initial_memory_bytes < 512 * 1024,
            "{name} starts with {} KiB of linear memory, every byte of which Spin clears per request",
            layout.initial_memory_bytes / 1024
        );
    }
    Ok(())
}

/// Everything that runs deepest, in one app: registration and logins
/// (PBKDF2 at 600,000 iterations, a legacy Flask hash and other systems'
/// hashes verified and upgraded), token signing and checking with HS256,
/// ES256 and EdDSA (deeply nested token JSON too),
/// the largest body the service accepts nested as deep as the JSON parser
/// goes, and delivery of full batches of large events through the
/// bridge's AMQP frames.
#[tokio::test]
async fn the_deepest_paths_run_within_the_stack() -> Result<()> {
    let store = TestStore::create(Backend::Sqlite).await?;
    let queue = TestQueue::new();
    let app = broker_app(&store, &queue, "5672")?;

    app.register("deep", "deep@example.com", "deep-password").await?;
    let token = app.login("deep@example.com", "deep-password").await?;
    assert_eq!(app.get_authorized("/profile", &token).await?.status, 200);
    // The Flask service's hash for "legacy-password": verified, then replaced.
    let flask_hash = auth::passwords::legacy_flask_hash("legacy-password");
    store
        .execute(&format!(
            r#"INSERT INTO "user" (id, username, password, email) VALUES ('00000000-0000-4000-8000-000000000001', 'legacy', '{flask_hash}', 'legacy@example.com')"#
        ))
        .await?;
    app.login("legacy", "legacy-password").await?;
    // Hashes from other systems at their libraries' defaults (argon2-cffi's
    // 64 MiB Argon2id, Werkzeug's scrypt), and bcrypt.
    let foreign: serde_json::Value = serde_json::from_str(&crate::flask_compat::flask_peer(&["foreign-hashes", "deep-password"])?)?;
    for (i, format) in ["argon2id (its default)", "werkzeug scrypt (its default)", "bcrypt 2b"].iter().enumerate() {
        let hash = foreign[*format].as_str().context("hash")?;
        store
            .execute(&format!(
                r#"INSERT INTO "user" (id, username, password, email) VALUES ('foreign-{i}', 'foreign{i}', '{hash}', 'foreign{i}@example.com')"#
            ))
            .await?;
        app.login(&format!("foreign{i}"), "deep-password").await.with_context(|| format!("{format}\n{}", app.guest_output()))?;
    }
    // Tokens signed and checked with stored P-256 and Ed25519 keys; the
    // app under another secret_key checks their signatures.
    for alg in ["ES256", "EdDSA"] {
        let policy = format!("token_signing_alg={alg}");
        // Events going to the same queue, delivered by this app's requests.
        let mut env = store.variables();
        env.extend(crate::support::broker_variables(&queue, "5672"));
        env.extend(crate::support::variables(&[("policy", &policy)]));
        let signing = store.app_env(env)?;
        let token = signing.login("deep", "deep-password").await?;
        let by_signature = crate::signing_keys::under_another_secret(&store, &policy)?;
        let reply = by_signature.get_authorized("/profile", &token).await?;
        assert_eq!(reply.status, 200, "{alg}: {}\n{}", reply.text(), by_signature.guest_output());
    }

    // Just under the body limit, nested to the parser's depth limit and past it.
    for depth in [127, 128, 5_000] {
        let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let padding = "x".repeat(auth::http_io::MAX_BODY_BYTES - nested.len() - 64);
        let body = format!(r#"{{"username":"deep","password":"{padding}","n":{nested}}}"#);
        let reply = app.raw("POST", "/login", &[("content-type", b"application/json")], body.as_bytes()).await?;
        assert!(matches!(reply.status, 400 | 401), "depth {depth}: {} {}\n{}", reply.status, reply.text(), app.guest_output());
    }

    // A token whose header and claims nest deep: parsed before the
    // signature is checked (the header) and never trusted, never a trap.
    for depth in [128, 2_000] {
        use base64::Engine as _;
        let b64 = |text: String| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text);
        let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let header = b64(format!(r#"{{"alg":"HS256","typ":"JWT","x":{nested}}}"#));
        let claims = b64(format!(r#"{{"user_id":"u","username":"deep","exp":9999999999,"x":{nested}}}"#));
        let reply = app.get_authorized("/profile", &format!("{header}.{claims}.c2lnbmF0dXJl")).await?;
        assert_eq!(reply.status, 401, "depth {depth}: {}\n{}", reply.text(), app.guest_output());
    }

    // The registration's two and the six logins' events went out after
    // their responses (the other apps' through this one's deliveries); once
    // they are in, no publisher holds the turn.
    assert_eq!(queue.wait_for(9, Duration::from_secs(15)).await?.len(), 9, "{}", app.guest_output());

    // 250 events of 30 KB each: three bridge calls of up to 100, each a
    // run of content frames.
    store
        .execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 250)
             INSERT INTO auth_outbox (id, event, payload)
             SELECT lower(hex(randomblob(16))), 'TestEvent',
                    json_object('event', 'TestEvent', 'data', json_object('msg', hex(randomblob(15000))))
             FROM n",
        )
        .await?;
    let flush = app
        .raw("POST", "/admin/outbox/flush", &[("authorization", format!("Bearer {ADMIN_TOKEN}").as_bytes())], b"")
        .await?;
    assert_eq!(flush.status, 200, "{}\n{}", flush.text(), app.guest_output());
    assert_eq!(flush.json()["pending"], json!(0), "{}", flush.text());
    assert_eq!(flush.json()["published"], json!(250), "{}", flush.text());
    assert_eq!(queue.wait_for(250, Duration::from_secs(30)).await?.len(), 250);
    assert!(!app.guest_output().contains("wasm trap"), "{}", app.guest_output());
    Ok(())
}
