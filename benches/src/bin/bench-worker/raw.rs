//! The raw floor: hyper-util's pooled client with no layer at all, the requests written out by
//! hand, in three forms: bodies read and dropped (`raw-bytes`, what the server and the wire
//! cost), decoded into the typed struct (`raw-typed`) and into `serde_json::Value`
//! (`raw-value`).

use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use http::header::{ACCEPT, AUTHORIZATION};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use hyper_util::rt::TokioExecutor;

use crate::model::{Incident, One, Page};
use crate::{Args, BoxError, Outcome, Prepared};

/// How a body is treated once read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decode {
    Bytes,
    Typed,
    Value,
}

/// The floor's HTTP client and what every request carries.
struct Raw<C> {
    client: Client<C, Empty<Bytes>>,
    auth: http::HeaderValue,
    base: String,
}

impl<C> Raw<C>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    fn new(connector: C, base: &str) -> Result<Self, BoxError> {
        let auth = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("admin:admin")
        );
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            auth: http::HeaderValue::try_from(auth)?,
            base: base.to_owned(),
        })
    }

    /// `GET base + path_and_query`; the body appended to `buf`. Fails on any status but 200.
    async fn get_into(
        &self,
        path_and_query: &str,
        buf: &mut Vec<u8>,
    ) -> Result<http::HeaderMap, BoxError> {
        let req = http::Request::get(format!("{}{path_and_query}", self.base))
            .header(AUTHORIZATION, self.auth.clone())
            .header(ACCEPT, "application/json")
            .body(Empty::new())?;
        let resp = self.client.request(req).await?;
        if resp.status() != http::StatusCode::OK {
            return Err(format!("{path_and_query}: status {}", resp.status()).into());
        }
        let (parts, mut body) = resp.into_parts();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                buf.extend_from_slice(&data);
            }
        }
        Ok(parts.headers)
    }

    /// One record by sys_id, decoded as asked: the check value.
    async fn get_one(&self, id: &str, decode: Decode) -> Result<u64, BoxError> {
        let mut buf = Vec::new();
        self.get_into(&format!("/api/now/table/incident/{id}"), &mut buf)
            .await?;
        Ok(match decode {
            Decode::Bytes => u64::from(!buf.is_empty()),
            Decode::Typed => serde_json::from_slice::<One<Incident>>(&buf)?
                .result
                .check(),
            Decode::Value => {
                let v = serde_json::from_slice::<One<serde_json::Value>>(&buf)?.result;
                let check = u64::from(v["number"].as_str().is_some_and(|n| n.starts_with("INC")));
                std::hint::black_box(v);
                check
            }
        })
    }
}

fn decode_of(contender: &str) -> Result<Decode, BoxError> {
    match contender {
        "raw-bytes" => Ok(Decode::Bytes),
        "raw-typed" => Ok(Decode::Typed),
        "raw-value" => Ok(Decode::Value),
        other => Err(format!("unknown contender {other:?}").into()),
    }
}

/// Runs workload `w` for the raw contender `c`.
pub(crate) async fn run(
    w: &str,
    c: &str,
    args: &Args,
    prepared: Prepared,
) -> Result<Outcome, BoxError> {
    let decode = decode_of(c)?;
    match &args.ca {
        None => {
            let raw = Arc::new(Raw::new(HttpConnector::new(), &args.url)?);
            workload(w, raw, args, prepared, decode).await
        }
        Some(ca) => {
            let raw = Arc::new(Raw::new(https_connector(ca)?, &args.url)?);
            workload(w, raw, args, prepared, decode).await
        }
    }
}

async fn workload<C>(
    w: &str,
    raw: Arc<Raw<C>>,
    args: &Args,
    prepared: Prepared,
    decode: Decode,
) -> Result<Outcome, BoxError>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    match w {
        "w1" => stream_pages(&raw, args, decode).await,
        "w2" => sequential(&raw, prepared.ids, decode).await,
        "w3" => in_flight(raw, prepared.ids, args.in_flight, decode).await,
        other => Err(format!("the raw floor does not run {other}").into()),
    }
}

/// W1: pages of `page_size` in sys_id order, one after the other, each decoded (or not) before
/// the next is asked for, as a hand-written loop does.
async fn stream_pages<C>(raw: &Raw<C>, args: &Args, decode: Decode) -> Result<Outcome, BoxError>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    let mut out = Outcome::default();
    let mut buf: Vec<u8> = Vec::new();
    let mut want = args.records;
    let mut offset = 0u64;
    while out.count < want {
        let limit = args.page_size.min(want - out.count);
        buf.clear();
        let headers = raw
            .get_into(
                &format!(
                    "/api/now/table/incident?sysparm_query=ORDERBYsys_id&sysparm_limit={limit}&sysparm_offset={offset}"
                ),
                &mut buf,
            )
            .await?;
        if offset == 0 {
            let total = headers
                .get("x-total-count")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            want = want.min(total.unwrap_or(u64::MAX));
        }
        let got = match decode {
            Decode::Bytes => {
                out.check += u64::from(!buf.is_empty()) * limit.min(want - out.count);
                limit.min(want - out.count)
            }
            Decode::Typed => {
                let page: Page<Incident> = serde_json::from_slice(&buf)?;
                out.check += page.result.iter().map(Incident::check).sum::<u64>();
                page.result.len() as u64
            }
            Decode::Value => {
                let page: Page<serde_json::Value> = serde_json::from_slice(&buf)?;
                out.check += page
                    .result
                    .iter()
                    .filter(|r| r["number"].as_str().is_some_and(|n| n.starts_with("INC")))
                    .count() as u64;
                let n = page.result.len() as u64;
                std::hint::black_box(page);
                n
            }
        };
        out.count += got;
        offset += got;
        if got < limit {
            break;
        }
    }
    Ok(out)
}

/// W2: one GET after the other on one keep-alive connection.
async fn sequential<C>(raw: &Raw<C>, ids: Vec<String>, decode: Decode) -> Result<Outcome, BoxError>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    let mut out = Outcome::default();
    for id in &ids {
        let start = Instant::now();
        out.check += raw.get_one(id, decode).await?;
        if out.first.is_none() {
            out.first = Some(start.elapsed());
        }
        out.count += 1;
    }
    Ok(out)
}

/// W3: `n` GETs in flight at any time.
async fn in_flight<C>(
    raw: Arc<Raw<C>>,
    ids: Vec<String>,
    n: usize,
    decode: Decode,
) -> Result<Outcome, BoxError>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    let mut out = Outcome::default();
    let mut results = stream::iter(ids)
        .map(|id| {
            let raw = raw.clone();
            async move { raw.get_one(&id, decode).await }
        })
        .buffer_unordered(n);
    while let Some(r) = results.next().await {
        out.check += r?;
        out.count += 1;
    }
    Ok(out)
}

/// An HTTPS connector trusting the CA in the PEM file `ca` (the dev instance's, written by
/// `--ca-out`).
fn https_connector(ca: &str) -> Result<hyper_rustls::HttpsConnector<HttpConnector>, BoxError> {
    let pem = std::fs::read(ca).map_err(|e| format!("{ca}: {e}"))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(cert?)?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_only()
        // What snow's transport offers, so both sides negotiate the same protocol (the dev
        // instance prefers HTTP/2).
        .enable_http1()
        .enable_http2()
        .build())
}

/// `ids`: the first `--requests` incident sys_ids in sys_id order, one a line, to `--out`.
pub(crate) async fn write_ids(args: &Args) -> Result<(), BoxError> {
    match &args.ca {
        None => ids_with(&Raw::new(HttpConnector::new(), &args.url)?, args).await,
        Some(ca) => ids_with(&Raw::new(https_connector(ca)?, &args.url)?, args).await,
    }
}

async fn ids_with<C>(raw: &Raw<C>, args: &Args) -> Result<(), BoxError>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    #[derive(serde::Deserialize)]
    struct Id {
        sys_id: String,
    }
    let out = args.out.as_deref().ok_or("ids needs --out FILE")?;
    let mut ids = String::new();
    let (mut offset, mut n) = (0usize, 0usize);
    let mut buf = Vec::new();
    while n < args.requests {
        let limit = (args.requests - n).min(10_000);
        buf.clear();
        raw.get_into(
            &format!(
                "/api/now/table/incident?sysparm_fields=sys_id&sysparm_query=ORDERBYsys_id&sysparm_limit={limit}&sysparm_offset={offset}"
            ),
            &mut buf,
        )
        .await?;
        let page: Page<Id> = serde_json::from_slice(&buf)?;
        if page.result.is_empty() {
            break;
        }
        for id in &page.result {
            ids.push_str(&id.sys_id);
            ids.push('\n');
        }
        n += page.result.len();
        offset += page.result.len();
    }
    std::fs::write(out, ids).map_err(|e| format!("{out}: {e}"))?;
    Ok(())
}

/// One call to the instance's admin API (as `admin`), with a JSON body; fails unless 2xx.
pub(crate) async fn admin(
    base: &str,
    method: http::Method,
    path: &str,
    json: &str,
) -> Result<(), BoxError> {
    let client: Client<HttpConnector, http_body_util::Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("admin:admin")
    );
    let req = http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"))
        .header(AUTHORIZATION, auth)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(http_body_util::Full::new(Bytes::copy_from_slice(
            json.as_bytes(),
        )))?;
    let resp = client.request(req).await?;
    if !resp.status().is_success() {
        return Err(format!("{path}: status {}", resp.status()).into());
    }
    Ok(())
}
