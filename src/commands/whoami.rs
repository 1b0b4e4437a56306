//! `s3creds whoami`: the identity in use, with s3-credentials' keys (UserId, Account, Arn).

use crate::aws::{inventory, AwsClients, AwsOptions};
use crate::error::Result;
use crate::output::{pretty_json, write_stdout};
use serde_json::json;

pub fn run(aws_options: &AwsOptions) -> Result<()> {
    let (user_id, account, arn) = crate::aws::block_on(async {
        let aws = AwsClients::load(aws_options).await?;
        inventory::caller_identity(&aws).await
    })??;
    let identity = json!({"UserId": user_id, "Account": account, "Arn": arn});
    write_stdout(&format!("{}\n", pretty_json(&identity)))
}
