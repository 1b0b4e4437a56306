//! `s3creds serve --http [--listen ADDR:PORT] [--token-file F]`: the credentials endpoint of `exec`
//! as a standalone process, for containers and tools configured through the environment. It prints
//! the two variables to give the client and answers until SIGINT or SIGTERM.

use crate::aws::AwsOptions;
use crate::cli::{HttpOptions, ServeCommandArgs};
use crate::commands::serve::Session;
use crate::endpoint::{self, Provider, Token};
use crate::error::{Error, Result};
use crate::output::write_stdout;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub fn run(args: &ServeCommandArgs, aws_options: &AwsOptions) -> Result<()> {
    let address = listen_address(&args.http)?;
    let token_file = args.http.token_file.as_deref().map(absolute).transpose()?;
    let session = Session::new(&args.serve, aws_options)?;
    let provider = Provider::new(session);
    provider.prime()?;
    let token = Token::generate()?;
    crate::aws::block_on(async {
        let listener = endpoint::bind(address).await?;
        let bound = listener
            .local_addr()
            .map_err(|e| Error::Internal(format!("the endpoint has no address: {e}")))?;
        let mut lines = format!(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://{bound}{}\n",
            endpoint::CREDENTIALS_PATH
        );
        match &token_file {
            Some(path) => {
                write_token_file(path, &token)?;
                lines.push_str(&format!(
                    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE={}\n",
                    path.display()
                ));
            }
            // Standard output only: never stderr, which logs collect.
            None => lines.push_str(&format!(
                "AWS_CONTAINER_AUTHORIZATION_TOKEN={}\n",
                token.expose()
            )),
        }
        // The signal handlers are in place before anyone can learn the address.
        let shutdown = shutdown_signal()?;
        write_stdout(&lines)?;
        endpoint::serve(listener, Arc::new(token), provider, shutdown).await;
        Ok(())
    })?
}

/// `--listen`, else 127.0.0.1 on a free port. Any address that is not loopback needs
/// `--allow-non-loopback` and gets a warning: the token and the credentials travel in clear text.
fn listen_address(http: &HttpOptions) -> Result<SocketAddr> {
    let Some(text) = &http.listen else {
        return Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
    };
    let address: SocketAddr = text.parse().map_err(|_| {
        Error::invalid_with_hint(
            format!("invalid --listen {text:?}"),
            "give an IP address and a port, e.g. 127.0.0.1:9911 or [::1]:9911 (port 0: a free one)",
        )
    })?;
    if !address.ip().is_loopback() {
        if !http.allow_non_loopback {
            return Err(Error::invalid_with_hint(
                format!("--listen {address} is not a loopback address: other machines could reach the credentials"),
                "listen on 127.0.0.1, or add --allow-non-loopback if a container network needs it",
            ));
        }
        eprintln!(
            "warning: listening on {address}, which is not loopback: anyone who can reach it and \
             has the token gets the credentials, unencrypted"
        );
    }
    Ok(address)
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path)
        .map_err(|e| Error::invalid(format!("--token-file {}: {e}", path.display())))
}

/// The token, alone, in a file only the user can read. An existing file is narrowed to 0600 before
/// the token is written over it (the atomic write keeps a file's mode).
fn write_token_file(path: &Path, token: &Token) -> Result<()> {
    let context = format!("cannot write --token-file {}", path.display());
    #[cfg(unix)]
    if let Ok(metadata) = std::fs::symlink_metadata(path) {
        use std::os::unix::fs::PermissionsExt;
        if metadata.is_file() {
            std::fs::set_permissions(
                path,
                std::fs::Permissions::from_mode(crate::files::PRIVATE_FILE_MODE),
            )
            .map_err(|e| crate::files::to_error(e, &context))?;
        }
    }
    crate::files::write_atomic(path, token.expose().as_bytes())
        .map_err(|e| crate::files::to_error(e, &context))
}

/// Completes on SIGINT or SIGTERM.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let listen = |kind: SignalKind| {
            signal(kind).map_err(|e| Error::Internal(format!("cannot handle signals: {e}")))
        };
        let mut interrupt = listen(SignalKind::interrupt())?;
        let mut terminate = listen(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
