//! A live observer for a [`treeline`] System, in the browser.
//!
//! One page shows the supervision tree as it runs (status colours, restarts,
//! mailbox fill), a sortable and filterable table of actors with busy and
//! stuck flags, an actor's details (links, monitors, child spec, supervisor
//! intensity, durable queues), the registry's names and topics, and dead
//! letters as they happen, under a header with totals and the tokio
//! runtime's workers and queue depth. Behind it: a versioned JSON API
//! (`/api/v1/...`) and a server-sent-events stream of snapshots.
//!
//! It uses only treeline's public API ([`System::snapshot`]), and it costs
//! nothing while nobody watches: one sampler task runs only while at least
//! one event stream is open, and every open stream shares its snapshots.
//!
//! Safe by default: it binds the loopback interface, refuses requests whose
//! `Host` is not a loopback name (DNS rebinding), takes an optional token
//! (required to bind anything else), and is read-only unless destructive
//! actions are allowed, which adds one action: make an actor exit, to watch
//! its supervisor restart it.
//!
//! ```no_run
//! use treeline::System;
//! use treeline_observer::Observer;
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let system = System::new();
//! let observer = Observer::builder().generate_token().serve(&system).await?;
//! println!("observer: {}", observer.url());
//! # Ok(())
//! # }
//! ```
//!
//! [`System::snapshot`]: treeline::System::snapshot

mod api;
mod assets;
mod builder;
mod dead_letters;
mod hub;
mod routes;
mod security;

pub use builder::{Observer, ObserverBuilder, ObserverError};
