//! `s3creds delete-user NAME... | --expired`: check every name, discover every user (read-only),
//! refuse unknown users and (without --force) users s3creds did not create, then plan and, unless
//! --dry-run, delete.

use crate::aws::apply::{iam_delete, Progress};
use crate::aws::{AwsClients, AwsOptions};
use crate::cli::{DeleteUserArgs, PlanFormat};
use crate::core::{names, plan_delete, time};
use crate::error::{Error, Result};
use crate::output::{self, write_stdout};
use futures::{StreamExt, TryStreamExt};

pub fn run(args: &DeleteUserArgs, aws_options: &AwsOptions) -> Result<()> {
    // Cheap checks first: a bad name costs no AWS call.
    for name in &args.names {
        names::validate_user_name(name)?;
    }
    plan_delete::check_distinct(&args.names)?;
    let progress = Progress {
        silent: args.silent,
    };
    crate::aws::block_on(async {
        let aws = AwsClients::load(aws_options).await?;
        let user_names = if args.expired {
            let users = iam_delete::all_users_with_tags(&aws).await?;
            let now = time::unix_seconds(std::time::SystemTime::now());
            let (expired, unreadable) = plan_delete::expired_users(&users, now);
            for name in &unreadable {
                eprintln!("warning: user {name} has an s3creds:expires tag s3creds cannot read; left alone");
            }
            if expired.is_empty() {
                progress.say("No s3creds user has expired: nothing to delete.");
                // A dry run still prints its (empty) plan: a script reading its JSON gets JSON.
                if args.dry_run.is_none() {
                    return Ok(());
                }
            }
            expired
        } else {
            args.names.clone()
        };
        let facts: Vec<_> = futures::stream::iter(
            user_names
                .iter()
                .map(|name| iam_delete::discover(&aws, name)),
        )
        .buffered(iam_delete::CONCURRENT_USERS)
        .try_collect()
        .await?;
        plan_delete::check_deletable(&facts, args.force)?;
        let plan = plan_delete::deletion_plan(&facts);
        match args.dry_run {
            Some(PlanFormat::Text) => return write_stdout(&plan_delete::render_text(&plan)),
            Some(PlanFormat::Json) => {
                let json =
                    serde_json::to_value(&plan).map_err(|e| Error::Internal(e.to_string()))?;
                return write_stdout(&format!("{}\n", output::pretty_json(&json)));
            }
            None => {}
        }
        iam_delete::apply(&plan, &aws, progress).await?;
        Ok(())
    })?
}
