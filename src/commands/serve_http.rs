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
    // Before any AWS call: a port in use is bad input like any other.
    let listener = endpoint::bind(address)?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::Internal(format!("the endpoint has no address: {e}")))?;
    let provider = Provider::new(session);
    provider.prime()?;
    let token = Token::generate()?;
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
    // On SIGINT or SIGTERM the process ends at once, even while a refresh waits on AWS (up to the
    // timeouts of every attempt): a service manager's stop should not wait that long.
    crate::aws::block_on_then_leave(async {
        // The signal handlers are in place before anyone can learn the address.
        let shutdown = shutdown_signal()?;
        write_stdout(&lines)?;
        endpoint::serve(listener, Arc::new(token), provider, shutdown).await
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
    let ip = address.ip().to_canonical();
    if ip.is_unspecified() {
        return Err(Error::invalid_with_hint(
            format!(
                "--listen {address} would listen on every interface, and the address printed for \
                 clients would be no address they can use"
            ),
            "listen on the one address the client reaches (127.0.0.1, or with \
             --allow-non-loopback e.g. a container bridge's address)",
        ));
    }
    if !ip.is_loopback() {
        if !http.allow_non_loopback {
            return Err(Error::invalid_with_hint(
                format!("--listen {address} is not a loopback address: other machines could reach the credentials"),
                "listen on 127.0.0.1, or add --allow-non-loopback if a container network needs it",
            ));
        }
        eprintln!(
            "warning: listening on {address}, which is not loopback: anyone who can reach it and \
             has the token gets the credentials, unencrypted. AWS SDKs take credentials over plain \
             HTTP only from loopback, 169.254.170.2, 169.254.170.23 or fd00:ec2::23: the client \
             must reach this endpoint through one of those"
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

#[cfg(test)]
mod tests {
    use super::*;

    fn listen(text: &str, allow_non_loopback: bool) -> Result<SocketAddr> {
        listen_address(&HttpOptions {
            http: true,
            listen: Some(text.to_string()),
            allow_non_loopback,
            ..HttpOptions::default()
        })
    }

    #[test]
    fn every_interface_is_refused_and_other_addresses_need_the_flag() {
        for everywhere in ["0.0.0.0:9911", "[::]:9911", "[::ffff:0.0.0.0]:9911"] {
            for allowed in [false, true] {
                let error = listen(everywhere, allowed).unwrap_err().to_string();
                assert!(error.contains("every interface"), "{everywhere}: {error}");
            }
        }
        for loopback in [
            "127.0.0.1:0",
            "127.1.2.3:9911",
            "[::1]:0",
            "[::ffff:127.0.0.1]:0",
        ] {
            assert!(listen(loopback, false).is_ok(), "{loopback}");
        }
        for other in ["10.0.0.1:9911", "172.17.0.1:0", "[fd00:ec2::23]:80"] {
            let error = listen(other, false).unwrap_err().to_string();
            assert!(error.contains("not a loopback address"), "{other}: {error}");
            assert!(listen(other, true).is_ok(), "{other}");
        }
        assert_eq!(
            listen_address(&HttpOptions::default()).unwrap(),
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
        );
    }
}
