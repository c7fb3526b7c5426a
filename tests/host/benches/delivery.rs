//! Delivery benchmark (not a test): events per second through the AMQP
//! bridge component, run under wasmtime against the real RabbitMQ, for
//! batches of 1, 10 and 100 messages per call; and a login's latency with
//! outbox delivery after its response versus what it would be if delivery
//! ran before it. Run: `cargo bench -p spin-test-host --bench delivery`
//! (after `scripts/test` or `spin-test-host build` has built the components).

mod support;

use anyhow::{Context, Result};
use http_body_util::BodyExt;
use std::time::{Duration, Instant};
use support::{median, request, root, Database};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::{WasiHttpCtxView, WasiHttpView};
use wasmtime_wasi_http::WasiHttpCtx;

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "amqp-bridge",
    imports: { default: async },
    exports: { default: async },
});

use exports::auth::amqp::publisher::{Broker, Destination, Message, Outcome};

const EVENTS_PER_SIZE: usize = 1000;

/// The bridge also serves service chaining, so it imports `wasi:http`'s
/// types; this bench calls its WIT export directly.
struct BridgeState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
}

impl WasiView for BridgeState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for BridgeState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: Default::default() }
    }
}

fn message(i: usize) -> Message {
    Message {
        body: format!(r#"{{"event":"TestEvent","data":{{"msg":"bench {i}"}},"id":"{i}"}}"#).into_bytes(),
        message_id: Some(format!("bench-{i}")),
        kind: Some("TestEvent".into()),
        content_type: Some("application/json".into()),
        timestamp: Some(0),
        app_id: Some("auth-bench".into()),
        persistent: true,
    }
}

/// Publishes `EVENTS_PER_SIZE` messages in calls of `batch`, each call in a
/// fresh instance as under Spin; returns events per second.
async fn bridge_rate(engine: &Engine, pre: &wasmtime::component::InstancePre<BridgeState>, queue: &str, batch: usize) -> Result<f64> {
    let broker = Broker {
        host: "127.0.0.1".into(),
        port: 5672,
        username: "guest".into(),
        password: "guest".into(),
        vhost: "/".into(),
        connect_timeout_ms: 2000,
        io_timeout_ms: 5000,
    };
    let destination =
        Destination { exchange: String::new(), routing_key: queue.into(), declare_durable_queue: Some(queue.into()) };
    let started = Instant::now();
    let mut sent = 0;
    while sent < EVENTS_PER_SIZE {
        let messages: Vec<Message> = (sent..sent + batch).map(message).collect();
        let wasi = WasiCtxBuilder::new().inherit_network().allow_ip_name_lookup(false).build();
        let mut store = Store::new(engine, BridgeState { wasi, http: WasiHttpCtx::new(), table: ResourceTable::new() });
        let instance = pre.instantiate_async(&mut store).await?;
        let bridge = AmqpBridge::new(&mut store, &instance)?;
        let report = bridge.auth_amqp_publisher().call_publish(&mut store, &broker, &destination, &messages).await?;
        anyhow::ensure!(report.error.is_none(), "publish failed: {:?}", report.error);
        anyhow::ensure!(report.outcomes.iter().all(|o| matches!(o, Outcome::Confirmed)), "unconfirmed messages");
        sent += batch;
    }
    Ok(sent as f64 / started.elapsed().as_secs_f64())
}

async fn delete_queue(name: &str) -> Result<()> {
    let conn = lapin::Connection::connect("amqp://guest:guest@127.0.0.1:5672/%2f", Default::default()).await?;
    let channel = conn.create_channel().await?;
    channel.queue_delete(name.into(), Default::default()).await?;
    Ok(())
}

/// A login's time to its response, and to the end of the guest's work
/// (response plus outbox delivery): the latter is what a login would cost if
/// delivery ran before the response.
async fn login_latency(queue: &str) -> Result<(Duration, Duration)> {
    let db = Database::create("delivery").await?;
    let app = db.app(&[("RABBITMQ_QUEUE", queue)])?;
    let addr = "127.0.0.1:1".parse()?;
    let register = request("POST", "/register", r#"{"username":"bench","email":"b@example.com","password":"bench-password"}"#, None);
    let (response, guest) = app.handle_detached(register, addr).await?;
    response.into_body().collect().await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    if let Some(guest) = guest {
        guest.await?;
    }
    let (mut to_response, mut to_done) = (Vec::new(), Vec::new());
    for _ in 0..15 {
        let started = Instant::now();
        let login = request("POST", "/login", r#"{"username":"bench","password":"bench-password"}"#, None);
        let (response, guest) = app.handle_detached(login, addr).await?;
        anyhow::ensure!(response.status() == 200, "login failed: {}", response.status());
        response.into_body().collect().await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
        to_response.push(started.elapsed());
        if let Some(guest) = guest {
            guest.await?;
        }
        to_done.push(started.elapsed());
    }
    drop(app);
    db.drop().await?;
    Ok((median(to_response), median(to_done)))
}

#[tokio::main]
async fn main() -> Result<()> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    let engine = Engine::new(&config)?;
    let path = root().join("target/wasm32-wasip2/release/amqp_bridge.wasm");
    let component = Component::from_file(&engine, &path).map_err(anyhow::Error::from).with_context(|| format!("{} (build it first)", path.display()))?;
    let mut linker: Linker<BridgeState> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    let pre = linker.instantiate_pre(&component)?;

    let queue = format!("auth_bench_{}", std::process::id());
    println!("| messages per publish call | events/s | ms per call |");
    println!("|---|---|---|");
    for batch in [1, 10, 100] {
        let rate = bridge_rate(&engine, &pre, &queue, batch).await?;
        println!("| {batch} | {rate:.0} | {:.2} |", 1000.0 * batch as f64 / rate);
    }
    let (response, done) = login_latency(&queue).await?;
    println!();
    println!("login, median of 15: response after {:.1} ms; delivery finished after {:.1} ms", ms(response), ms(done));
    println!("delivery before the response would add {:.1} ms to every login", ms(done) - ms(response));
    delete_queue(&queue).await?;
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
