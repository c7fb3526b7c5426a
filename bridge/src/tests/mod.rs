//! Unit tests: golden bytes from the AMQP 0-9-1 spec, round trips, hostile
//! input, a scripted broker, and a live RabbitMQ on 127.0.0.1:5672.

mod fake_broker;
mod golden;
mod malformed;
mod properties;
mod rabbitmq;
mod roundtrip;
