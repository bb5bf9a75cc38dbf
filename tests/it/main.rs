//! The integration tests: one binary, one module per feature area.

#[macro_use]
mod support;

mod core;
mod damage;
mod durable;
mod durable_golden;
mod durable_idempotent;
mod durable_model;
mod durable_poison;
mod durable_topics;
mod gen_server;
mod introspect;
mod mailbox;
mod pubsub;
mod registry;
mod registry_model;
mod registry_stress;
mod scripted;
mod signals;
mod stress;
mod supervision;
mod supervision_model;
mod system;
mod timers;
