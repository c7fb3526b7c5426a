//! Spin's service chaining: a component's `wasi:http` request to
//! `http://<component>.spin.internal/...` runs that component in process,
//! as a request of its own, and its response is the answer (Spin 4.0.2:
//! `crates/trigger-http/src/outbound_http.rs`). The permission is checked
//! first against the caller's `allowed_outbound_hosts`, as for any outbound
//! request, and is an instance's first outbound check (so the `Spin`
//! profile resolves every variable there). A destination component that
//! does not exist traps the caller, as in Spin. The test host makes no other
//! outbound HTTP request: it refuses them as denied.

use crate::allowed_hosts::log_denied;
use crate::runtime::{ComponentEnv, Dispatch};
use std::sync::Arc;
use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::p2::types::{HostFutureIncomingResponse, IncomingResponse, OutgoingRequestConfig};
use wasmtime_wasi_http::p2::{HttpResult, WasiHttpHooks};

/// The component a service-chaining host names: `bridge.spin.internal` (a
/// port, if any, ignored) names `bridge`.
pub fn target(host: &str) -> Option<&str> {
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    let (first, rest) = host.split_once('.')?;
    (!first.is_empty() && rest.eq_ignore_ascii_case("spin.internal")).then_some(first)
}

/// The outbound HTTP of one request's instance.
pub struct OutboundHttp {
    pub dispatch: Arc<Dispatch>,
    pub env: Arc<ComponentEnv>,
    pub prepared: Arc<tokio::sync::OnceCell<()>>,
}

impl WasiHttpHooks for OutboundHttp {
    fn send_request(
        &mut self,
        request: hyper::Request<HyperOutgoingBody>,
        config: OutgoingRequestConfig,
    ) -> HttpResult<HostFutureIncomingResponse> {
        let uri = request.uri().clone();
        let scheme = uri.scheme_str().unwrap_or(if config.use_tls { "https" } else { "http" }).to_owned();
        let host = uri.host().unwrap_or_default();
        if !self.env.allowed_hosts.allows(&scheme, host, uri.port_u16()) {
            log_denied(&self.env.id, &scheme, uri.authority().map_or(host, |a| a.as_str()));
            return Err(ErrorCode::HttpRequestDenied.into());
        }
        let Some(component) = target(host).map(str::to_owned) else {
            eprintln!(
                "component {}: {uri} refused: the test host makes no outbound HTTP request but Spin's \
                 service chaining (http://<component>.spin.internal)",
                self.env.id
            );
            return Err(ErrorCode::HttpRequestDenied.into());
        };
        let (dispatch, env, prepared) = (self.dispatch.clone(), self.env.clone(), self.prepared.clone());
        let between_bytes_timeout = config.between_bytes_timeout;
        let pending = wasmtime_wasi::runtime::spawn(async move {
            env.before_outbound(&prepared).await;
            let resp = dispatch.chained(request, &component).await.map_err(wasmtime::Error::from_anyhow)?;
            Ok(Ok(IncomingResponse { resp, worker: None, between_bytes_timeout }))
        });
        Ok(HostFutureIncomingResponse::pending(pending))
    }
}

#[cfg(test)]
mod tests {
    use super::target;

    #[test]
    fn chaining_hosts_name_their_component() {
        assert_eq!(target("amqp-bridge.spin.internal"), Some("amqp-bridge"));
        assert_eq!(target("amqp-bridge.SPIN.internal:80"), Some("amqp-bridge"));
        for other in ["spin.internal", ".spin.internal", "a.b.spin.internal", "example.com", "a.spin.internal.example"] {
            assert_eq!(target(other), None, "{other}");
        }
    }
}
