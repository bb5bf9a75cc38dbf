//! The integration tests: one binary, one module per feature area.

mod smoke;
