//! One module per subcommand.

pub mod bucket;
pub mod cache;
pub mod create;
pub mod objects;
pub mod plugin;
pub mod policy;
pub mod profile;
pub mod serve;
