//! The HTTP endpoint (`--http ADDR`): `GET /metrics` in Prometheus' text format and
//! `GET /health`. Deliberately tiny: two read-only paths, one request per connection,
//! so a plain tokio listener serves it without an HTTP framework in the build.

use std::fmt::Write;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tracing::{info, warn};

use crate::coordinator::Coordinator;

/// Largest request head read; anything longer is refused.
const MAX_REQUEST: usize = 8 * 1024;

pub async fn serve(listener: TcpListener, coord: Arc<Mutex<Coordinator>>) {
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, "metrics on http://{addr}/metrics");
    }
    loop {
        let (socket, _) = match listener.accept().await {
            Ok(pair) => pair,
            Err(e) => {
                warn!("http accept failed: {e}");
                continue;
            }
        };
        let coord = coord.clone();
        tokio::spawn(async move {
            if let Err(e) = respond(socket, coord).await {
                warn!("http request failed: {e}");
            }
        });
    }
}

async fn respond(mut socket: TcpStream, coord: Arc<Mutex<Coordinator>>) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_REQUEST {
        let n = socket.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let request_line = String::from_utf8_lossy(&head);
    let mut parts = request_line.split_whitespace();
    let (status, body) = match (parts.next(), parts.next()) {
        (Some("GET"), Some("/metrics")) => {
            let body = tokio::task::block_in_place(|| coord.lock().map(|c| c.render_metrics()));
            match body {
                Ok(b) => ("200 OK", b),
                Err(_) => ("500 Internal Server Error", "coordinator unavailable\n".into()),
            }
        }
        (Some("GET"), Some("/health")) => ("200 OK", "ok\n".into()),
        (Some(_), Some(_)) => ("404 Not Found", "try /metrics or /health\n".into()),
        _ => ("400 Bad Request", "bad request\n".into()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(response.as_bytes()).await?;
    socket.shutdown().await
}

/// Builds Prometheus' text exposition format, one metric family at a time.
#[derive(Default)]
pub struct MetricsText {
    out: String,
}

impl MetricsText {
    /// Starts a family: `kind` is `counter` or `gauge`.
    pub fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
            let _ = write!(self.out, "{{{}}}", labels.join(","));
        }
        let _ = writeln!(self.out, " {value}");
    }

    pub fn finish(self) -> String {
        self.out
    }
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_format_with_escaped_labels() {
        let mut m = MetricsText::default();
        m.family("eddy_source_messages_total", "counter", "Messages read.");
        m.sample("eddy_source_messages_total", &[("source", "a\"b")], 3.0);
        assert_eq!(
            m.finish(),
            "# HELP eddy_source_messages_total Messages read.\n# TYPE eddy_source_messages_total counter\n\
             eddy_source_messages_total{source=\"a\\\"b\"} 3\n"
        );
    }
}
