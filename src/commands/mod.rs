//! One module per subcommand.

pub mod bucket;
pub mod cache;
pub mod completions;
pub mod create;
pub mod delete_user;
pub mod exec;
pub mod list;
pub mod listings;
pub mod man;
pub mod objects;
pub mod plugin;
pub mod policy;
pub mod profile;
pub mod rotate;
pub mod serve;
pub mod serve_http;
pub mod whoami;
