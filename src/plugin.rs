//! Plugins: dynamic libraries that add presets (`--preset`) and output formats (`--format`).
//!
//! * `loader`: the only `unsafe` code of the crate: file checks before `dlopen`, the ABI handshake,
//!   and calls through the function table.
//! * `registry`: the installed plugins (data folder, manifest, checksums, permissions).
//! * `build`: turning a plugin crate folder into a library with cargo.
//! * `resolve`: what the commands use: presets into statements, format names into renderers.
//!
//! Nothing here runs unless a command names a plugin: `create` and `policy` without `--preset` and
//! with a built-in format never read the manifest.

pub mod build;
#[allow(unsafe_code)]
pub mod loader;
pub mod registry;
pub mod resolve;
