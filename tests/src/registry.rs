//! Avro test data: a stand-in for a Confluent schema registry on loopback, and Avro bytes
//! written by Apache Avro's own Python library (`tests/avro/encode.py`), an encoder
//! independent of Eddy's decoder.
//!
//! The stand-in answers the two requests Eddy makes (`GET /subjects/{subject}/versions/
//! latest` and `GET /schemas/ids/{id}`) from schemas the test registers, and can be taken
//! down (connections are then closed unanswered) and brought back. No real registry
//! runs here (Confluent's needs Java and a download).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Registered {
    /// id -> schema text.
    schemas: BTreeMap<u32, String>,
    /// subject -> id of its latest version.
    latest: BTreeMap<String, u32>,
}

pub struct SchemaRegistryStub {
    port: u16,
    registered: Arc<Mutex<Registered>>,
    up: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl SchemaRegistryStub {
    pub fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let stub = SchemaRegistryStub {
            port,
            registered: Arc::default(),
            up: Arc::new(AtomicBool::new(true)),
            stop: Arc::default(),
        };
        let (registered, up, stop) = (stub.registered.clone(), stub.up.clone(), stub.stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                if up.load(Ordering::Relaxed) {
                    let _ = answer(stream, &registered);
                }
            }
        });
        Ok(stub)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Registers `schema` with `id` as the latest version of `subject`.
    pub fn register(&self, subject: &str, id: u32, schema: &str) {
        if let Ok(mut r) = self.registered.lock() {
            r.schemas.insert(id, schema.to_string());
            r.latest.insert(subject.to_string(), id);
        }
    }

    /// Down: connections are accepted and closed without an answer.
    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::Relaxed);
    }
}

impl Drop for SchemaRegistryStub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn answer(mut stream: TcpStream, registered: &Mutex<Registered>) -> std::io::Result<()> {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        request.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&request);
    let path = text.split_whitespace().nth(1).unwrap_or("");
    let found = registered.lock().ok().and_then(|r| {
        let id = match path.strip_prefix("/schemas/ids/") {
            Some(id) => id.parse().ok()?,
            None => *r.latest.get(path.strip_prefix("/subjects/")?.strip_suffix("/versions/latest")?)?,
        };
        let schema = r.schemas.get(&id)?;
        Some(serde_json::json!({"id": id, "version": 1, "schema": schema}).to_string())
    });
    let (status, body) = match found {
        Some(body) => ("200 OK", body),
        None => ("404 Not Found", serde_json::json!({"error_code": 40403, "message": "Schema not found"}).to_string()),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Each record encoded with `schema` by Apache Avro's Python library, framed as Confluent
/// serializers do: a zero byte, the schema id (4 bytes, big-endian), the Avro datum.
pub fn avro_messages(schema: &str, id: u32, records: &[serde_json::Value]) -> anyhow::Result<Vec<Vec<u8>>> {
    let request = serde_json::json!({"schema": serde_json::from_str::<serde_json::Value>(schema)?, "records": records});
    let script = crate::manifest_dir().join("avro/encode.py");
    let mut child = Command::new("/usr/bin/python3")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot run {}: {e}", script.display()))?;
    child.stdin.take().ok_or_else(|| anyhow::anyhow!("no stdin"))?.write_all(request.to_string().as_bytes())?;
    let output = child.wait_with_output()?;
    anyhow::ensure!(
        output.status.success(),
        "encoding Avro failed (is Debian's python3-avro installed?): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)?
        .lines()
        .map(|hex| {
            let mut message = vec![0u8];
            message.extend(id.to_be_bytes());
            for i in (0..hex.len()).step_by(2) {
                message.push(u8::from_str_radix(&hex[i..i + 2], 16)?);
            }
            Ok(message)
        })
        .collect()
}
