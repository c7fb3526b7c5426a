//! The host serving over a real TCP listener, as `spin-test-host up` does.

use crate::on_both_stores;
use spin_test_host::server::serve;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

on_both_stores! {
async fn serves_health_over_http_on_a_port(store) {
    let app = store.app()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(serve(app.app.clone(), listener));

    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(b"GET /auth/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await?;
    server.abort();
    assert!(raw.starts_with("HTTP/1.1 200 OK\r\n"), "{raw}");
    assert!(raw.to_ascii_lowercase().contains("content-type: application/json"), "{raw}");
    assert!(raw.contains(r#""status":"healthy""#), "{raw}");
    Ok(())
}
}
