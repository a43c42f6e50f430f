//! Code shared by integration tests (each test file includes what it needs).

pub mod cli;
pub mod quant;
pub mod write;
