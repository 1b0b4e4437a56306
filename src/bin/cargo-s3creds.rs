//! `cargo s3creds ...`: cargo runs `cargo-s3creds s3creds ...`. This binary drops that extra word and
//! runs the `s3creds` installed beside it (`cargo install` puts both in one folder), so the subcommand
//! behaves, help text and exit codes included, exactly like `s3creds`, and an install links the
//! program once instead of twice.

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1).peekable();
    if args.peek().is_some_and(|a| a == "s3creds") {
        args.next();
    }
    let program = match std::env::current_exe() {
        Ok(own) => own.with_file_name(format!("s3creds{}", std::env::consts::EXE_SUFFIX)),
        Err(error) => {
            eprintln!("error: cargo-s3creds cannot find its own path: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut command = Command::new(&program);
    command.args(args);
    let not_run = |error: std::io::Error| {
        eprintln!(
            "error: cannot run {}: {error}\nhint: cargo-s3creds runs the s3creds installed beside \
             it; reinstall both with `cargo install --locked s3creds`",
            program.display()
        );
        ExitCode::FAILURE
    };
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Only returns when s3creds could not be started.
        not_run(command.exec())
    }
    #[cfg(not(unix))]
    match command.status() {
        Ok(status) => ExitCode::from(
            status
                .code()
                .and_then(|c| u8::try_from(c).ok())
                .unwrap_or(1),
        ),
        Err(error) => not_run(error),
    }
}
