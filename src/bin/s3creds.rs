//! The `s3creds` command.

fn main() -> std::process::ExitCode {
    s3creds::main_impl(std::env::args_os())
}
