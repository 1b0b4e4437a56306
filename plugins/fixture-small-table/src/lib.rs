//! Test fixture: the entry symbol returns a table that is only the 8-byte header. A host that read
//! the function pointers without checking `size` would read past the end of it.

use s3creds_plugin_api::{PluginTableV1, TableHeader};

#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub extern "C" fn s3creds_plugin_v1() -> *const PluginTableV1 {
    static HEADER: TableHeader = TableHeader {
        abi_version: 1,
        size: std::mem::size_of::<TableHeader>() as u32,
    };
    std::ptr::from_ref(&HEADER).cast()
}
