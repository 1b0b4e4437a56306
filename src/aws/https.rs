//! The HTTPS client every AWS call goes through: hyper 1 on rustls with the *ring* crypto provider, or
//! aws-lc-rs with the `tls-aws-lc` feature.
//!
//! The SDK's `default-https-client` feature hard-wires rustls with aws-lc-rs. Measured here (README,
//! "Build and dependencies"), ring gives the same cold install time, a 2 MB smaller binary and six
//! crates fewer, and builds without CMake anywhere; aws-lc-rs brings post-quantum key exchange, so it
//! stays one feature away. This builds the same client the SDK would (same connector settings, same
//! sleep implementation, proxies from `HTTPS_PROXY`/`NO_PROXY` as the SDK's current behavior version
//! does). It is handed to aws-config's loader, so the credential providers (SSO, web identity, IMDS,
//! the container endpoint) use it too.

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

#[cfg(not(feature = "tls-aws-lc"))]
const CRYPTO: CryptoMode = CryptoMode::Ring;
#[cfg(feature = "tls-aws-lc")]
const CRYPTO: CryptoMode = CryptoMode::AwsLc;

/// A new HTTPS client. Connections are pooled inside it, so one is built per process.
pub fn client() -> SharedHttpClient {
    Builder::new().build_with_connector_fn(|settings, runtime_components| {
        let mut connector = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(CRYPTO));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = runtime_components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}
