//! The test's own RabbitMQ consumer (lapin) and a queue per test, deleted
//! when the test ends.

use anyhow::{Context, Result};
use lapin::options::{BasicGetOptions, QueueDeleteOptions};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use std::time::{Duration, Instant};

pub const AMQP_URI: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// A message as the consumer saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub body: serde_json::Value,
    pub properties: BasicProperties,
}

impl Received {
    pub fn message_id(&self) -> Option<String> {
        self.properties.message_id().as_ref().map(|s| s.as_str().to_owned())
    }
}

/// A uniquely named queue, deleted on drop.
pub struct TestQueue {
    pub name: String,
}

impl TestQueue {
    pub fn new() -> TestQueue {
        TestQueue { name: super::unique_name("auth_events") }
    }

    async fn channel() -> Result<(Connection, lapin::Channel)> {
        let conn = Connection::connect(AMQP_URI, ConnectionProperties::default())
            .await
            .context("connecting to RabbitMQ on 127.0.0.1:5672 (is it running?)")?;
        let channel = conn.create_channel().await?;
        Ok((conn, channel))
    }

    /// Takes every message now in the queue (the queue may not exist yet).
    pub async fn drain(&self) -> Result<Vec<Received>> {
        let (conn, channel) = Self::channel().await?;
        let mut out = Vec::new();
        loop {
            match channel.basic_get(self.name.as_str().into(), BasicGetOptions { no_ack: true }).await {
                Ok(Some(message)) => {
                    let delivery = message.delivery;
                    let body = serde_json::from_slice(&delivery.data)
                        .with_context(|| format!("message body is not JSON: {:?}", String::from_utf8_lossy(&delivery.data)))?;
                    out.push(Received { body, properties: delivery.properties });
                }
                Ok(None) => break,
                // 404: nothing was ever published, so the queue was never declared.
                Err(_) if out.is_empty() => break,
                Err(e) => return Err(e.into()),
            }
        }
        let _ = conn.close(200, "done".into()).await;
        Ok(out)
    }

    /// Collects messages until `count` have arrived or `timeout` passes.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Result<Vec<Received>> {
        let deadline = Instant::now() + timeout;
        let mut got = Vec::new();
        while got.len() < count && Instant::now() < deadline {
            got.extend(self.drain().await?);
            if got.len() < count {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(got)
    }
}

impl Drop for TestQueue {
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(async {
                let (conn, channel) = TestQueue::channel().await?;
                channel.queue_delete(name.as_str().into(), QueueDeleteOptions::default()).await?;
                conn.close(200, "done".into()).await?;
                anyhow::Ok(())
            })
        })
        .join();
    }
}
