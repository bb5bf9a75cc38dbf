//! The integration tests: one binary, one module per feature area.

mod gen_server;
mod scripted;
mod signals;
mod smoke;
mod support;
