//! `cargo s3creds ...`: cargo runs `cargo-s3creds s3creds ...`. Dropping that extra word and naming the
//! program `s3creds` makes the subcommand behave, help text included, exactly like the `s3creds` binary.

fn main() -> std::process::ExitCode {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "s3creds") {
        args.remove(1);
    }
    if let Some(program) = args.first_mut() {
        *program = "s3creds".into();
    }
    s3creds::main_impl(args)
}
