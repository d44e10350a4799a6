//! Demo data that `up` loads into empty databases, through each function's own code.

pub mod permits;
pub mod reports;

pub use civic::demo::Rng;
