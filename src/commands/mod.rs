//! One module per subcommand.

pub mod cache;
pub mod create;
pub mod list;
pub mod listings;
pub mod plugin;
pub mod policy;
pub mod profile;
pub mod serve;
pub mod whoami;
