//! The response body cap, over real sockets: oversized bodies are refused without reading them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::Request;
use snow_test_support::server::{raw_server, read_head, reply, serve};
use snow_transport::{Body, Transport, TransportError};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

const MIB: usize = 1024 * 1024;

fn instance(addr: std::net::SocketAddr) -> snow_transport::Instance {
    snow_transport::Instance::from_url(&format!("http://{addr}")).unwrap()
}

/// A server that tries to send `total` bytes of body (chunked when `chunked`) and reports how
/// many it managed to write before the client went away.
async fn huge_body_server(
    total: usize,
    chunked: bool,
) -> (std::net::SocketAddr, mpsc::Receiver<usize>) {
    let (tx, rx) = mpsc::channel(4);
    let addr = raw_server(move |mut s| {
        let tx = tx.clone();
        async move {
            let _ = read_head(&mut s).await;
            let head = if chunked {
                "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_owned()
            } else {
                format!("HTTP/1.1 200 OK\r\ncontent-length: {total}\r\n\r\n")
            };
            if s.write_all(head.as_bytes()).await.is_err() {
                let _ = tx.send(0).await;
                return;
            }
            let chunk = vec![b'x'; 64 * 1024];
            let written = Arc::new(AtomicUsize::new(0));
            while written.load(Ordering::SeqCst) < total {
                let ok = if chunked {
                    let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
                    framed.extend_from_slice(&chunk);
                    framed.extend_from_slice(b"\r\n");
                    s.write_all(&framed).await.is_ok()
                } else {
                    s.write_all(&chunk).await.is_ok()
                };
                if !ok {
                    break;
                }
                written.fetch_add(chunk.len(), Ordering::SeqCst);
            }
            let _ = tx.send(written.load(Ordering::SeqCst)).await;
        }
    })
    .await;
    (addr, rx)
}

#[tokio::test]
async fn a_declared_length_over_the_cap_is_refused_before_reading() {
    let total = 1024 * MIB;
    let (addr, mut written) = huge_body_server(total, false).await;
    let t = Transport::builder(instance(addr))
        .max_response_body(MIB)
        .build()
        .unwrap();
    let err = t.send(crate::get("/x")).await.unwrap_err();
    assert!(
        matches!(err, TransportError::BodyTooLarge { limit } if limit == MIB),
        "{err}"
    );
    assert!(err.to_string().contains("1048576"), "{err}");
    drop(t);
    let n = tokio::time::timeout(Duration::from_secs(30), written.recv())
        .await
        .expect("the server noticed the client left")
        .unwrap();
    eprintln!("server wrote {n} bytes before the client left");
    // Only what fits in socket buffers was written, nowhere near the gigabyte offered.
    assert!(n < 64 * MIB, "server wrote {n} bytes");
}

#[tokio::test]
async fn a_chunked_body_is_cut_off_once_past_the_cap() {
    let total = 1024 * MIB;
    let (addr, mut written) = huge_body_server(total, true).await;
    let t = Transport::builder(instance(addr))
        .max_response_body(2 * MIB)
        .build()
        .unwrap();
    let resp = t.send(crate::get("/x")).await.unwrap();
    assert_eq!(resp.status(), 200);
    let err = resp.into_body().collect_bytes().await.unwrap_err();
    assert!(
        matches!(err, TransportError::BodyTooLarge { limit } if limit == 2 * MIB),
        "{err}"
    );
    drop(t);
    let n = tokio::time::timeout(Duration::from_secs(30), written.recv())
        .await
        .expect("the server noticed the client left")
        .unwrap();
    assert!(n < 64 * MIB, "server wrote {n} bytes");
}

#[tokio::test]
async fn bodies_within_the_cap_and_head_requests_are_fine() {
    let server = serve(|seen, _| async move {
        if seen.method == http::Method::HEAD {
            let mut r = reply(200, "");
            r.headers_mut()
                .insert("content-length", "999999999".parse().unwrap());
            r
        } else {
            reply(200, r#"{"result":[1,2,3]}"#)
        }
    })
    .await;
    let t = Transport::builder(server.instance())
        .max_response_body(18)
        .build()
        .unwrap();
    let resp = t.send(crate::get("/x")).await.unwrap();
    assert_eq!(
        resp.into_body().collect_bytes().await.unwrap(),
        r#"{"result":[1,2,3]}"#
    );
    let resp = t
        .send(Request::head("/x").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.into_body().collect_bytes().await.unwrap().is_empty());

    let t = Transport::builder(server.instance())
        .max_response_body(17)
        .build()
        .unwrap();
    let err = t.send(crate::get("/x")).await.unwrap_err();
    assert!(
        matches!(err, TransportError::BodyTooLarge { limit: 17 }),
        "{err}"
    );
}

#[tokio::test]
async fn a_request_may_carry_its_own_cap() {
    let total = 3 * MIB;
    let (addr, _written) = huge_body_server(total, false).await;
    let t = Transport::builder(instance(addr))
        .max_response_body(MIB)
        .build()
        .unwrap();
    let mut req = crate::get("/x");
    req.extensions_mut()
        .insert(snow_transport::MaxResponseBody(4 * MIB));
    let body = t.send(req).await.unwrap().into_body();
    assert_eq!(body.limit(), 4 * MIB);
    assert_eq!(body.collect_bytes().await.unwrap().len(), total);
}
