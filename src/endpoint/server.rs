//! The HTTP/1 server of the credentials endpoint (hyper). Bounded: request heads above 8 KiB get 431
//! (hyper's smallest buffer), a head that takes longer than 5 s to arrive closes the connection,
//! bodies are refused (see `handler`).

use super::handler::{judge, refusal_body, Verdict};
use super::{Provider, Token};
use crate::error::{Error, Result};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// hyper's smallest read buffer, and so the bound on a request head.
const MAX_HEAD_BYTES: usize = 8192;
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once: far above what the SDKs of one machine open, far below the usual
/// limit of 1,024 file descriptors.
const MAX_CONNECTIONS: usize = 256;
/// The pause after a failed accept.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Listen on `address` (port 0: a free one). Bound before anything else is done, so a port in use
/// costs nothing.
pub fn bind(address: SocketAddr) -> Result<std::net::TcpListener> {
    std::net::TcpListener::bind(address).map_err(|e| {
        Error::invalid_with_hint(
            format!("cannot listen on {address}: {e}"),
            "choose another --listen address or port (port 0 picks a free one)",
        )
    })
}

/// Answer requests on `listener` until `shutdown` completes; then the listener is closed and every
/// open connection is dropped with it. At most [`MAX_CONNECTIONS`] are served at once (more wait in
/// the listen queue), so idle clients cannot use up this process's file descriptors.
pub async fn serve(
    listener: std::net::TcpListener,
    token: Arc<Token>,
    provider: Arc<Provider>,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let listener = listener
        .set_nonblocking(true)
        .and_then(|()| TcpListener::from_std(listener))
        .map_err(|e| Error::Internal(format!("cannot serve the endpoint: {e}")))?;
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = Arc::clone(&permits).acquire_owned() => permit,
        };
        let Ok(permit) = permit else { break };
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _peer)) => stream,
                    // Out of file descriptors, or a connection reset before it was taken: the
                    // listener stays ready, so retrying at once would spin.
                    Err(_) => {
                        tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                        continue;
                    }
                };
                let token = Arc::clone(&token);
                let provider = Arc::clone(&provider);
                connections.spawn(async move {
                    let _permit = permit;
                    let service = hyper::service::service_fn(move |request| {
                        let token = Arc::clone(&token);
                        let provider = Arc::clone(&provider);
                        async move { Ok::<_, Infallible>(respond(request, &token, &provider).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .max_buf_size(MAX_HEAD_BYTES)
                        .timer(TokioTimer::new())
                        .header_read_timeout(HEAD_TIMEOUT)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
                // Reap finished connections so a long-running endpoint does not accumulate them.
                while connections.try_join_next().is_some() {}
            }
        }
    }
    drop(listener);
    connections.abort_all();
    Ok(())
}

async fn respond(
    request: Request<Incoming>,
    token: &Token,
    provider: &Arc<Provider>,
) -> Response<Full<Bytes>> {
    match judge(
        request.method(),
        request.uri().path(),
        request.headers(),
        token,
    ) {
        Verdict::Refused(status, reason) => json_response(status, refusal_body(status, reason)),
        Verdict::Credentials => match provider.credentials().await {
            Ok(credentials) => match crate::output::container_json(&credentials) {
                Ok(body) => json_response(StatusCode::OK, body.to_string()),
                Err(error) => unavailable(&error),
            },
            Err(error) => unavailable(&error),
        },
    }
}

/// The fetch failed: the client gets the reason (error messages never hold secrets), and so does
/// the s3creds terminal, since an SDK may swallow it.
fn unavailable(error: &Error) -> Response<Full<Bytes>> {
    eprintln!("{}", error.render_one_line());
    let status = StatusCode::INTERNAL_SERVER_ERROR;
    json_response(status, refusal_body(status, &error.to_string()))
}

fn json_response(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
