//! Test fixture: a perfectly good shared library that is not an s3creds plugin (no
//! `s3creds_plugin_v1` symbol).

#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub extern "C" fn something_else_entirely() -> u32 {
    42
}
