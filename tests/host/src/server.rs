//! Serves an [`App`] over HTTP/1.1 on a TCP listener.

use crate::runtime::App;
use anyhow::Result;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use std::sync::Arc;
use tokio::net::TcpListener;
use wasmtime_wasi_http::io::TokioIo;

/// Accepts connections until the task is dropped; each connection is served
/// on its own task.
pub async fn serve(app: Arc<App>, listener: TcpListener) -> Result<()> {
    loop {
        let (stream, client_addr) = listener.accept().await?;
        let app = app.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let app = app.clone();
                async move { app.handle(req, client_addr).await }
            });
            if let Err(e) = http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(stream), service).await {
                if !e.is_incomplete_message() {
                    eprintln!("error serving {client_addr}: {e}");
                }
            }
        });
    }
}
