//! A Confluent-compatible schema registry client: the latest schema of a subject (for
//! CREATE SOURCE), a schema by id (for each message's writer schema), and the Confluent
//! wire format (`0x00`, a 4-byte big-endian schema id, then the Avro value).
//!
//! The registry is asked with plain HTTP/1.1 GETs over a `TcpStream`: two read-only
//! requests of small JSON documents do not earn an HTTP client crate's build time.
//! `https://` registries are refused with a clear error for now.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use eddy_repr::source::SchemaRegistry;
use serde_json::Value;

use crate::avro::Schema;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Larger answers are not schemas.
const MAX_RESPONSE: usize = 16 << 20;

/// Why the registry did not give a schema.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// The registry could not be reached or answered garbage: try again later.
    #[error("schema registry {url} unavailable: {why}")]
    Unavailable { url: String, why: String },
    /// The registry answered that the subject or id does not exist (or refused us).
    #[error("schema registry {url}: {why}")]
    Refused { url: String, why: String },
    /// The schema it returned is not valid Avro.
    #[error("schema registry {url}: {why}")]
    Invalid { url: String, why: String },
}

impl From<RegistryError> for crate::StorageError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::Unavailable { .. } => crate::StorageError::Connect(e.to_string()),
            RegistryError::Refused { .. } => crate::StorageError::Topic(e.to_string()),
            RegistryError::Invalid { .. } => crate::StorageError::Config(e.to_string()),
        }
    }
}

/// A registry and the writer schemas already fetched from it, by id.
pub struct RegistryClient {
    registry: SchemaRegistry,
    schemas: Mutex<HashMap<u32, Arc<Schema>>>,
}

impl RegistryClient {
    pub fn new(registry: SchemaRegistry) -> Self {
        RegistryClient { registry, schemas: Mutex::default() }
    }

    /// The latest schema registered under `subject` (say `orders-value`), as text.
    pub fn latest(&self, subject: &str) -> Result<String, RegistryError> {
        let doc = self.get(&format!("/subjects/{}/versions/latest", percent_encode(subject)))?;
        self.schema_text(&doc)
    }

    /// The schema with `id`, fetched once and then kept.
    pub fn schema(&self, id: u32) -> Result<Arc<Schema>, RegistryError> {
        if let Some(schema) = self.schemas.lock().ok().and_then(|s| s.get(&id).cloned()) {
            return Ok(schema);
        }
        let doc = self.get(&format!("/schemas/ids/{id}"))?;
        let text = self.schema_text(&doc)?;
        let schema = Arc::new(Schema::parse(&text).map_err(|e| self.invalid(format!("schema {id}: {e}")))?);
        if let Ok(mut schemas) = self.schemas.lock() {
            schemas.insert(id, schema.clone());
        }
        Ok(schema)
    }

    fn schema_text(&self, doc: &Value) -> Result<String, RegistryError> {
        if let Some(kind) = doc.get("schemaType").and_then(Value::as_str).filter(|k| *k != "AVRO") {
            return Err(self.invalid(format!("the schema is {kind}, not Avro")));
        }
        doc.get("schema")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| self.invalid("the answer has no \"schema\"".into()))
    }

    fn invalid(&self, why: String) -> RegistryError {
        RegistryError::Invalid { url: self.registry.url.clone(), why }
    }

    /// GETs `path` and parses the JSON answer.
    fn get(&self, path: &str) -> Result<Value, RegistryError> {
        let url = self.registry.url.clone();
        let unavailable = |why: String| RegistryError::Unavailable { url: url.clone(), why };
        let Some(rest) = url.strip_prefix("http://") else {
            let why = "only http:// schema registry URLs are supported (https is not yet)".into();
            return Err(RegistryError::Refused { url, why });
        };
        let (authority, base_path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
        let host_port = if authority.contains(':') { authority.to_string() } else { format!("{authority}:80") };
        let address = host_port
            .to_socket_addrs()
            .map_err(|e| unavailable(format!("cannot resolve {authority}: {e}")))?
            .next()
            .ok_or_else(|| unavailable(format!("cannot resolve {authority}")))?;
        let mut stream =
            TcpStream::connect_timeout(&address, CONNECT_TIMEOUT).map_err(|e| unavailable(e.to_string()))?;
        let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
        let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
        let base_path = base_path.trim_end_matches('/');
        let mut request = format!(
            "GET {}{path} HTTP/1.1\r\nHost: {authority}\r\nAccept: application/vnd.schemaregistry.v1+json, \
             application/json\r\nConnection: close\r\n",
            if base_path.is_empty() { String::new() } else { format!("/{base_path}") }
        );
        if let Some(user) = &self.registry.username {
            let credentials = format!("{user}:{}", self.registry.password.as_deref().unwrap_or(""));
            let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
            request.push_str(&format!("Authorization: Basic {encoded}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).map_err(|e| unavailable(e.to_string()))?;
        let mut response = Vec::new();
        stream
            .take(MAX_RESPONSE as u64)
            .read_to_end(&mut response)
            .map_err(|e| unavailable(format!("reading the answer: {e}")))?;
        let (status, body) = parse_response(&response).map_err(unavailable)?;
        let json: Option<Value> = serde_json::from_slice(&body).ok();
        match status {
            200 => json.ok_or_else(|| unavailable("the answer is not JSON".into())),
            // The registry's own message says which subject or id is missing. Other
            // refusals (authentication, rate limits) are the registry's state, not the
            // message's: retried.
            404 | 422 => {
                let message = json
                    .as_ref()
                    .and_then(|j| j.get("message"))
                    .and_then(Value::as_str)
                    .map_or_else(|| String::from_utf8_lossy(&body).into_owned(), str::to_string);
                Err(RegistryError::Refused { url, why: format!("HTTP {status} for {path}: {message}") })
            }
            _ => Err(unavailable(format!("HTTP {status} for {path}"))),
        }
    }
}

/// The status code and body of an HTTP/1.x answer (identity or chunked).
fn parse_response(response: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").ok_or("the answer is not HTTP")?;
    let head = String::from_utf8_lossy(&response[..split]);
    let body = &response[split + 4..];
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or("the answer has no HTTP status")?;
    let header = |name: &str| {
        head.split("\r\n")
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_ascii_lowercase())
    };
    if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        return Ok((status, dechunk(body)?));
    }
    let body = match header("content-length").and_then(|n| n.parse::<usize>().ok()) {
        Some(n) if n <= body.len() => body[..n].to_vec(),
        Some(_) => return Err("the answer was cut short".into()),
        None => body.to_vec(),
    };
    Ok((status, body))
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n").ok_or("bad chunked answer")?;
        let size_text = String::from_utf8_lossy(&body[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| "bad chunk size in the answer")?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if body.len() < size + 2 {
            return Err("the answer was cut short".into());
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Splits a message in the Confluent wire format into its schema id and Avro bytes.
pub fn split_framing(bytes: &[u8]) -> Result<(u32, &[u8]), String> {
    match bytes {
        [0, a, b, c, d, rest @ ..] => Ok((u32::from_be_bytes([*a, *b, *c, *d]), rest)),
        [magic, ..] if bytes.len() >= 5 => Err(format!(
            "not in the Confluent wire format: magic byte {magic}, expected 0 (was it produced with a schema \
             registry serializer?)"
        )),
        _ => Err(format!("a {}-byte message is too short for the Confluent wire format", bytes.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_answers_with_length_or_chunks() {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(parse_response(plain), Ok((200, b"{}".to_vec())));
        let chunked =
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked), Ok((404, b"abcde".to_vec())));
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{}").is_err());
        assert!(parse_response(b"garbage").is_err());
    }

    #[test]
    fn confluent_framing() {
        assert_eq!(split_framing(&[0, 0, 0, 1, 2, 9, 9]), Ok((258, &[9u8, 9][..])));
        assert!(split_framing(&[1, 0, 0, 0, 1]).unwrap_err().contains("magic byte 1"));
        assert!(split_framing(&[0, 0]).unwrap_err().contains("too short"));
        assert_eq!(percent_encode("a b/c-value"), "a%20b%2Fc-value");
    }

    /// Answers one request on a loopback port with `answer`; returns the URL and the
    /// request as received.
    fn one_shot(answer: &'static str) -> (String, std::thread::JoinHandle<String>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/base/", listener.local_addr().expect("address"));
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("accept");
            let mut request = Vec::new();
            let mut buf = [0u8; 512];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = stream.read(&mut buf).expect("read");
                request.extend_from_slice(&buf[..n]);
            }
            stream.write_all(answer.as_bytes()).expect("write");
            String::from_utf8_lossy(&request).into_owned()
        });
        (url, server)
    }

    #[test]
    fn schemas_by_id_with_basic_authentication_and_kept_once_fetched() {
        let body = r#"{"schema": "{\"type\": \"record\", \"name\": \"r\", \"fields\": [{\"name\": \"a\", \"type\": \"int\"}]}"}"#;
        let answer = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len()).leak();
        let (url, server) = one_shot(answer);
        let registry = SchemaRegistry { url: url.clone(), username: Some("app".into()), password: Some("pw".into()) };
        let client = RegistryClient::new(registry);
        let schema = client.schema(7).expect("fetched");
        let request = server.join().expect("server");
        assert!(request.starts_with("GET /base/schemas/ids/7 HTTP/1.1\r\n"), "{request}");
        // base64("app:pw")
        assert!(request.contains("Authorization: Basic YXBwOnB3\r\n"), "{request}");
        assert_eq!(schema.decode(&[4]).map(|d| eddy_repr::strconv::jsonb_to_string(&d)), Ok(r#"{"a": 2}"#.into()));
        // The listener is gone: a second fetch of the same id does not ask again.
        assert!(Arc::ptr_eq(&client.schema(7).expect("cached"), &schema));

        let (url, server) = one_shot("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n");
        let refused = RegistryClient::new(SchemaRegistry { url, ..Default::default() }).schema(1);
        server.join().expect("server");
        assert!(matches!(refused, Err(RegistryError::Unavailable { .. })), "bad credentials are retried: {refused:?}");
    }

    #[test]
    fn https_is_refused_and_an_unreachable_registry_is_unavailable() {
        let https = RegistryClient::new(SchemaRegistry { url: "https://r".into(), ..SchemaRegistry::default() });
        assert!(matches!(https.latest("t-value"), Err(RegistryError::Refused { .. })));
        // Port 9 (discard) on loopback: nothing listens there in tests.
        let down = RegistryClient::new(SchemaRegistry { url: "http://127.0.0.1:9".into(), ..Default::default() });
        assert!(matches!(down.schema(1), Err(RegistryError::Unavailable { .. })));
    }
}
