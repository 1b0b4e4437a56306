//! `s3creds man [--dir DIR]`: man pages generated from the command line definition (clap_mangen), so
//! they document exactly the options this binary accepts.

use crate::cli::ManArgs;
use crate::error::{Error, Result};

pub fn run(args: &ManArgs) -> Result<()> {
    let command = crate::cli::Cli::definition();
    match &args.dir {
        Some(dir) => {
            if !dir.is_dir() {
                return Err(Error::invalid_with_hint(
                    format!("{} is not a folder", dir.display()),
                    "create it first, e.g. mkdir -p ~/.local/share/man/man1",
                ));
            }
            clap_mangen::generate_to(command, dir).map_err(|e| {
                Error::invalid(format!(
                    "cannot write the man pages into {}: {e}",
                    dir.display()
                ))
            })?;
            eprintln!(
                "Wrote s3creds.1 and one page per subcommand into {}",
                dir.display()
            );
            Ok(())
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command)
                .render(&mut page)
                .map_err(|e| Error::Internal(format!("cannot render the man page: {e}")))?;
            crate::output::write_stdout(&String::from_utf8_lossy(&page))
        }
    }
}
