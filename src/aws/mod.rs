//! Everything that reaches AWS: configuration and clients (`clients`), and the plan executor (`apply`),
//! which is the only code that changes anything in AWS.

pub mod apply;
mod clients;

pub use clients::*;
