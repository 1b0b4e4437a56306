//! `s3creds policy`: print the policy `create` would use. Makes no AWS call.

use crate::aws::AwsOptions;
use crate::cli::PolicyArgs;
use crate::error::Result;
use crate::output::{pretty_json, write_stdout};

pub fn run(args: &PolicyArgs, aws: &AwsOptions) -> Result<()> {
    let mut scope = crate::request::scope(&args.buckets, &args.policy, aws)?;
    if let Some(text) = &args.expires {
        scope = scope.with_expiry(crate::request::expiry(text)?)?;
    }
    write_stdout(&format!("{}\n", pretty_json(scope.document())))
}
