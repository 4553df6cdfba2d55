//! JetStream consumers against a real nats-server.
