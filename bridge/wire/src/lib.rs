//! A `publish` call of `wit/amqp.wit`'s `auth:amqp/publisher`, as the JSON
//! body the auth component POSTs to the `amqp-bridge` component through
//! Spin's service chaining (`http://amqp-bridge.spin.internal/publish`), and
//! the report the bridge answers with. The records mirror the WIT ones
//! field for field; a message's body is text (every event is JSON).

use serde::{Deserialize, Serialize};

/// The bridge's component id in `spin.toml`.
pub const COMPONENT: &str = "amqp-bridge";
/// The host that reaches it through service chaining.
pub const AUTHORITY: &str = "amqp-bridge.spin.internal";
/// The one path it answers.
pub const PATH: &str = "/publish";

/// The arguments of one `publish`.
#[derive(Serialize, Deserialize)]
pub struct PublishRequest {
    pub broker: Broker,
    pub destination: Destination,
    pub messages: Vec<Message>,
}

/// Where the broker is and how to log in. No `Debug`: it holds the password.
#[derive(Clone, Serialize, Deserialize)]
pub struct Broker {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: String,
    pub vhost: String,
    pub connect_timeout_ms: u32,
    pub io_timeout_ms: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    pub exchange: String,
    pub routing_key: String,
    pub declare_durable_queue: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub body: String,
    pub message_id: Option<String>,
    /// The `type` property.
    pub kind: Option<String>,
    pub content_type: Option<String>,
    /// Seconds since the Unix epoch.
    pub timestamp: Option<u64>,
    pub app_id: Option<String>,
    pub persistent: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Confirmed,
    Rejected,
    Unconfirmed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloseReason {
    pub code: u16,
    pub text: String,
    pub class_id: u16,
    pub method_id: u16,
}

/// `{"kind": "timeout", "detail": "..."}`; the bridge never puts the
/// password in one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "kebab-case")]
pub enum PublishError {
    ConnectionRefused(String),
    AuthenticationRefused(String),
    ConnectionClosed(CloseReason),
    ChannelClosed(CloseReason),
    Timeout(String),
    Protocol(String),
}

/// An outcome per message, in order, and the error that ended the call
/// early, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishReport {
    pub outcomes: Vec<Outcome>,
    pub error: Option<PublishError>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_and_errors_have_their_documented_json_shape() {
        let report = PublishReport {
            outcomes: vec![Outcome::Confirmed, Outcome::Unconfirmed],
            error: Some(PublishError::ChannelClosed(CloseReason { code: 404, text: "NOT_FOUND".into(), class_id: 50, method_id: 10 })),
        };
        let value = serde_json::to_value(&report).unwrap();
        assert_eq!(
            value,
            json!({"outcomes": ["confirmed", "unconfirmed"],
                   "error": {"kind": "channel-closed", "detail": {"code": 404, "text": "NOT_FOUND", "class_id": 50, "method_id": 10}}})
        );
        assert_eq!(serde_json::from_value::<PublishReport>(value).unwrap(), report);
        let timeout = serde_json::to_value(PublishError::Timeout("5 s".into())).unwrap();
        assert_eq!(timeout, json!({"kind": "timeout", "detail": "5 s"}));
    }
}
