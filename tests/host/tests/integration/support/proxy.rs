//! A TCP proxy in front of RabbitMQ that the tests control, to inject broker
//! faults without touching the machine's shared broker: refuse connections
//! (broker down), cut every open connection (broker restarted), or cut
//! connections at random while forwarding.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const UPSTREAM: &str = "127.0.0.1:5672";

#[derive(Default)]
struct State {
    refusing: AtomicBool,
    /// Chance, in parts per million, of cutting a connection after each chunk.
    cut_ppm: AtomicU32,
    /// When not zero, each connection is cut once it has carried this many
    /// bytes towards the broker: in the middle of a batch, every time.
    cut_after_bytes: AtomicU32,
    connections: Mutex<Vec<JoinHandle<()>>>,
    cuts: AtomicU32,
}

pub struct FaultProxy {
    pub addr: SocketAddr,
    state: Arc<State>,
    acceptor: JoinHandle<()>,
}

impl FaultProxy {
    pub async fn start() -> anyhow::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::default());
        let acceptor = tokio::spawn(accept_loop(listener, state.clone()));
        Ok(FaultProxy { addr, state, acceptor })
    }

    pub fn port(&self) -> String {
        self.addr.port().to_string()
    }

    /// Broker down: new connections are closed at once, open ones are cut.
    pub fn refuse(&self) {
        self.state.refusing.store(true, Ordering::SeqCst);
        self.cut_all();
    }

    /// Forward, but cut every connection after `bytes` towards the broker.
    pub fn cut_after(&self, bytes: u32) {
        self.state.cut_after_bytes.store(bytes, Ordering::SeqCst);
        self.state.refusing.store(false, Ordering::SeqCst);
    }

    /// Broker back: forward everything faithfully.
    pub fn forward(&self) {
        self.state.cut_after_bytes.store(0, Ordering::SeqCst);
        self.state.cut_ppm.store(0, Ordering::SeqCst);
        self.state.refusing.store(false, Ordering::SeqCst);
    }

    /// Forward, but cut each connection after any chunk with this probability.
    pub fn cut_randomly(&self, probability: f64) {
        self.state.cut_ppm.store((probability * 1e6) as u32, Ordering::SeqCst);
        self.state.refusing.store(false, Ordering::SeqCst);
    }

    /// Broker restarted: every open connection drops.
    pub fn cut_all(&self) {
        for task in self.state.connections.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// How many connections the proxy has cut (at random or after a byte count).
    pub fn random_cuts(&self) -> u32 {
        self.state.cuts.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.acceptor.abort();
        self.cut_all();
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    while let Ok((client, _)) = listener.accept().await {
        if state.refusing.load(Ordering::SeqCst) {
            drop(client);
            continue;
        }
        let task = tokio::spawn(pipe(client, state.clone()));
        let mut connections = state.connections.lock().unwrap();
        connections.retain(|t| !t.is_finished());
        connections.push(task);
    }
}

/// Copies both ways until either side closes or a random cut happens.
async fn pipe(client: TcpStream, state: Arc<State>) {
    let Ok(upstream) = TcpStream::connect(UPSTREAM).await else { return };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut upstream_read, mut upstream_write) = upstream.into_split();
    let cut = |state: &State| {
        let ppm = state.cut_ppm.load(Ordering::SeqCst);
        let hit = ppm > 0 && rand::random_range(0..1_000_000) < ppm;
        if hit {
            state.cuts.fetch_add(1, Ordering::SeqCst);
        }
        hit
    };
    let up_state = state.clone();
    let up = async move {
        let mut buf = vec![0u8; 16 * 1024];
        let mut carried = 0usize;
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let limit = up_state.cut_after_bytes.load(Ordering::SeqCst) as usize;
            if limit > 0 && carried + n >= limit {
                let _ = upstream_write.write_all(&buf[..limit.saturating_sub(carried)]).await;
                up_state.cuts.fetch_add(1, Ordering::SeqCst);
                break;
            }
            carried += n;
            if cut(&up_state) || upstream_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    let down = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match upstream_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if cut(&state) || client_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    // Whichever direction ends first ends the connection.
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}
