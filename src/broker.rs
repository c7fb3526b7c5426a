//! The RabbitMQ side of the outbox: publishing through the `amqp-bridge`
//! component, a component of its own that Spin instantiates only when a
//! batch is delivered, reached through service chaining (`bridge_client`).

use crate::amqp_url::{self, AmqpUrl};
use crate::bridge_client;
use crate::config::{self, ConfigError, VariableSource};
use amqp_bridge_wire::{Broker, Destination, PublishRequest};
use std::fmt;

pub use amqp_bridge_wire::{Message, Outcome, PublishError as BridgeError, PublishReport};

/// Identifies this service in the `app_id` property.
pub const APP_ID: &str = "auth-service";
const CONNECT_TIMEOUT_MS: u32 = 2_000;
const IO_TIMEOUT_MS: u32 = 5_000;

/// Where events go. `Debug` hides the password.
#[derive(Clone)]
pub struct BrokerConfig {
    pub host: String,
    pub port: u16,
    pub username: String,
    password: String,
    pub vhost: String,
    pub queue: String,
}

impl fmt::Debug for BrokerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BrokerConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &"[REDACTED]")
            .field("vhost", &self.vhost)
            .field("queue", &self.queue)
            .finish()
    }
}

impl BrokerConfig {
    /// From the Flask service's `rabbitmq_host`, `rabbitmq_port` and
    /// `rabbitmq_queue`, and `rabbitmq_url` for the credentials and vhost
    /// (guest/guest on `/` when it is empty). Spin permits the socket by
    /// `rabbitmq_host:rabbitmq_port` (`allowed_outbound_hosts`), so a URL
    /// naming another address is refused here, naming both, rather than
    /// failing later with a bare PermissionDenied.
    pub fn from_source(source: &dyn VariableSource) -> Result<BrokerConfig, ConfigError> {
        let text = |name: &'static str, default: &str| -> Result<String, ConfigError> {
            Ok(config::optional(source, name)?.unwrap_or_else(|| default.to_owned()))
        };
        let port = text("rabbitmq_port", "5672")?;
        let port = port.trim().parse::<u16>().ok().filter(|p| *p > 0).ok_or(ConfigError {
            variable: "rabbitmq_port",
            problem: "is malformed: expected a port number".into(),
        })?;
        let host = text("rabbitmq_host", "127.0.0.1")?;
        let Ok(ip) = host.trim().parse::<std::net::IpAddr>() else {
            return Err(ConfigError {
                variable: "rabbitmq_host",
                problem: "must be an IP address: Spin gives components no DNS".into(),
            });
        };
        let url = config::optional(source, amqp_url::VARIABLE)?.map(|raw| AmqpUrl::parse(&raw)).transpose()?;
        if let Some(url) = &url {
            if (url.host, url.port) != (ip, port) {
                return Err(ConfigError {
                    variable: amqp_url::VARIABLE,
                    problem: format!(
                        "names {} but rabbitmq_host:rabbitmq_port is {}, the address Spin lets the component \
                         reach: set rabbitmq_host and rabbitmq_port to the URL's",
                        std::net::SocketAddr::new(url.host, url.port),
                        std::net::SocketAddr::new(ip, port)
                    ),
                });
            }
        }
        let url = url.as_ref();
        Ok(BrokerConfig {
            host: ip.to_string(),
            port,
            username: url.and_then(|u| u.username.clone()).unwrap_or_else(|| "guest".into()),
            password: url.and_then(|u| u.password.clone()).unwrap_or_else(|| "guest".into()),
            vhost: url.and_then(|u| u.vhost.clone()).unwrap_or_else(|| "/".into()),
            queue: text("rabbitmq_queue", "auth-events")?,
        })
    }

    /// Publishes `messages` to the queue (declared durable) with confirms.
    pub fn publish(&self, messages: Vec<Message>) -> PublishReport {
        let broker = Broker {
            host: self.host.clone(),
            port: self.port,
            username: self.username.clone(),
            password: self.password.clone(),
            vhost: self.vhost.clone(),
            connect_timeout_ms: CONNECT_TIMEOUT_MS,
            io_timeout_ms: IO_TIMEOUT_MS,
        };
        let destination = Destination {
            exchange: String::new(),
            routing_key: self.queue.clone(),
            declare_durable_queue: Some(self.queue.clone()),
        };
        bridge_client::publish(&PublishRequest { broker, destination, messages })
    }
}

/// A short description of a bridge error for logs and `last_error`; the
/// bridge never puts the password in its errors.
pub fn describe(err: &BridgeError) -> String {
    match err {
        BridgeError::ConnectionRefused(m) => format!("connection refused: {m}"),
        BridgeError::AuthenticationRefused(m) => format!("authentication refused: {m}"),
        BridgeError::ConnectionClosed(r) => format!("connection closed by broker: {} {}", r.code, r.text),
        BridgeError::ChannelClosed(r) => format!("channel closed by broker: {} {}", r.code, r.text),
        BridgeError::Timeout(m) => format!("timeout: {m}"),
        BridgeError::Protocol(m) => format!("protocol error: {m}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::MapSource;
    use std::collections::HashMap;

    #[test]
    fn defaults_and_redacted_debug() {
        let cfg = BrokerConfig::from_source(&MapSource(HashMap::new())).unwrap();
        assert_eq!((cfg.host.as_str(), cfg.port, cfg.queue.as_str()), ("127.0.0.1", 5672, "auth-events"));
        assert_eq!((cfg.username.as_str(), cfg.password.as_str(), cfg.vhost.as_str()), ("guest", "guest", "/"));
        assert!(format!("{cfg:?}").contains(r#"password: "[REDACTED]""#));
    }

    #[test]
    fn rabbitmq_url_gives_credentials_and_vhost_for_the_permitted_address() {
        let source = MapSource(HashMap::from([
            ("rabbitmq_host", "10.0.0.5"),
            ("rabbitmq_url", "amqp://events:s3cret@10.0.0.5:5672/prod"),
        ]));
        let cfg = BrokerConfig::from_source(&source).unwrap();
        assert_eq!((cfg.host.as_str(), cfg.port), ("10.0.0.5", 5672));
        assert_eq!((cfg.username.as_str(), cfg.password.as_str(), cfg.vhost.as_str()), ("events", "s3cret", "prod"));
        assert!(!format!("{cfg:?}").contains("s3cret"));

        let elsewhere = MapSource(HashMap::from([("rabbitmq_url", "amqp://events:s3cret@10.0.0.5:5672/prod")]));
        let err = BrokerConfig::from_source(&elsewhere).unwrap_err();
        assert_eq!(err.variable, "rabbitmq_url");
        assert!(err.problem.contains("10.0.0.5:5672") && err.problem.contains("127.0.0.1:5672"), "{}", err.problem);
        assert!(!err.to_string().contains("s3cret"));
    }

    #[test]
    fn host_must_be_an_ip_and_port_a_number() {
        let err = BrokerConfig::from_source(&MapSource(HashMap::from([("rabbitmq_host", "rabbitmq.svc")]))).unwrap_err();
        assert_eq!(err.variable, "rabbitmq_host");
        let err = BrokerConfig::from_source(&MapSource(HashMap::from([("rabbitmq_port", "amqp")]))).unwrap_err();
        assert_eq!(err.variable, "rabbitmq_port");
    }
}
