//! Everything that reaches AWS: configuration and clients (`clients`), the HTTPS client (`https`), time bounds (`timeouts`), the
//! classification of failures before any answer (`transport`), the plan executor (`apply`), which is
//! the only code that changes IAM and STS state, the read-only listings (`inventory`), and the bucket
//! and object commands' S3 calls (`objects`: settings a user asked for by name, and transfers).

pub mod apply;
mod clients;
mod https;
pub mod timeouts;
pub mod transport;

pub use clients::*;
pub mod inventory;
pub mod objects;
