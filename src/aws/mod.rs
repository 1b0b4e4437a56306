//! Everything that reaches AWS: configuration and clients (`clients`), time bounds (`timeouts`), the
//! classification of failures before any answer (`transport`), and the plan executor (`apply`), which
//! is the only code that changes anything in AWS.

pub mod apply;
mod clients;
pub mod timeouts;
pub mod transport;

pub use clients::*;
pub mod inventory;
pub mod objects;
