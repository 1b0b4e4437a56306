//! The pure core: from validated input to policy documents and the plan of AWS calls. Nothing here
//! reads files or the environment, calls AWS, touches the credential cache or loads a plugin
//! (`tests/layering.rs` enforces it), so all of it is unit-tested without a server.

pub mod credential_report;
pub mod duration;
pub mod expiry;
pub mod names;
pub mod objects;
pub mod plan;
pub mod plan_delete;
pub mod policy;
pub mod policy_grammar;
pub mod policy_reading;
pub mod preconditions;
pub mod request;
pub mod role;
pub mod rotate;
pub mod tags;
pub mod time;
