//! Test fixture: exports `s3creds_plugin_v1`, but its table claims ABI generation 99. The host must
//! refuse it by reading the header only, naming the expected and the found version.

use s3creds_plugin_api::{glue, Plugin, PluginTableV1};

struct FromTheFuture;

impl Plugin for FromTheFuture {
    fn name(&self) -> String {
        "fixture-wrong-abi".to_string()
    }

    fn version(&self) -> String {
        "9.9.9".to_string()
    }
}

struct Instance;

impl glue::Instance for Instance {
    fn get() -> &'static dyn Plugin {
        &FromTheFuture
    }
}

#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub extern "C" fn s3creds_plugin_v1() -> *const PluginTableV1 {
    static TABLE: PluginTableV1 = {
        let mut table = glue::table_v1::<Instance>();
        table.header.abi_version = 99;
        table
    };
    &TABLE
}
