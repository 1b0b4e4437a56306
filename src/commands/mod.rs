//! One module per subcommand.

pub mod create;
pub mod plugin;
pub mod policy;
