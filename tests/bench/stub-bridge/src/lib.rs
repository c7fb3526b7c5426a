//! `tests/bench/spin-ab`'s stand-in for the `amqp-bridge` component: the
//! same `auth:amqp/publisher` export, publishing nothing. Composed into the
//! app in place of the real bridge, it shows what the bridge's code and
//! memory cost each Spin instance (the benchmark leaves the broker
//! unreachable, so the real bridge publishes nothing either).

wit_bindgen::generate!({ path: "../../../wit", world: "amqp-bridge" });

use exports::auth::amqp::publisher::{Broker, Destination, Error, Guest, Message, Outcome, PublishReport};

struct Stub;

impl Guest for Stub {
    fn publish(_: Broker, _: Destination, messages: Vec<Message>) -> PublishReport {
        PublishReport {
            outcomes: vec![Outcome::Unconfirmed; messages.len()],
            error: Some(Error::ConnectionRefused("the benchmark's stub bridge publishes nothing".into())),
        }
    }
}

export!(Stub);
