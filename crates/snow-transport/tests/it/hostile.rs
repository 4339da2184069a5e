//! Hostile and broken servers over raw TCP: each failure gets an error saying what happened, and
//! only those that may clear up are retried.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use snow_test_support::server::{raw_server, read_head};
use snow_transport::{ErrorKind, Instance, RetryConfig, Transport, TransportError};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

fn quick() -> RetryConfig {
    RetryConfig::default()
        .base_delay(Duration::from_millis(10))
        .max_delay(Duration::from_millis(50))
}

/// A raw server answering every connection with `answer(connection index)`, then closing it;
/// returns its address and a count of connections.
async fn answering(
    answer: impl Fn(usize) -> Vec<u8> + Send + Sync + 'static,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    let answer = Arc::new(answer);
    let addr = raw_server(move |mut s: TcpStream| {
        let index = counter.fetch_add(1, Ordering::SeqCst);
        let answer = answer.clone();
        async move {
            let _ = read_head(&mut s).await;
            let bytes = answer(index);
            // The client may hang up before reading it all: that is the point of some tests.
            let _ = s.write_all(&bytes).await;
            let _ = s.shutdown().await;
        }
    })
    .await;
    (addr, connections)
}

fn transport(addr: SocketAddr, retry: RetryConfig) -> Transport {
    Transport::builder(Instance::from_url(&format!("http://{addr}")).unwrap())
        .retry(retry)
        .build()
        .unwrap()
}

async fn get(
    t: &Transport,
) -> Result<http::Response<snow_transport::ResponseBody>, TransportError> {
    t.send(crate::get("/api/now/table/incident")).await
}

#[tokio::test]
async fn a_one_megabyte_header_is_a_head_too_large_and_is_not_retried() {
    let (addr, connections) = answering(|_| {
        let mut head = b"HTTP/1.1 200 OK\r\nx-big: ".to_vec();
        head.extend(std::iter::repeat_n(b'a', 1024 * 1024));
        head.extend_from_slice(b"\r\ncontent-length: 0\r\n\r\n");
        head
    })
    .await;
    let err = get(&transport(addr, quick())).await.unwrap_err();
    assert!(
        matches!(err, TransportError::ResponseHeadTooLarge { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("too large"), "{err}");
    assert!(err.to_string().contains("408 KiB"), "{err}");
    assert_eq!(err.kind(), ErrorKind::Response);
    assert!(!err.is_retryable());
    assert_eq!(connections.load(Ordering::SeqCst), 1, "retried");
}

#[tokio::test]
async fn too_many_header_fields_are_a_head_too_large() {
    // 101 fields (100 named ones and the length): one more than the client reads.
    let fields = |n: usize| {
        move |_| {
            let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
            for i in 0..n {
                head.extend_from_slice(format!("x-h{i}: v\r\n").as_bytes());
            }
            head.extend_from_slice(b"content-length: 2\r\n\r\n{}");
            head
        }
    };
    let (addr, connections) = answering(fields(100)).await;
    let err = get(&transport(addr, quick())).await.unwrap_err();
    assert!(
        matches!(err, TransportError::ResponseHeadTooLarge { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("100 header fields"), "{err}");
    assert_eq!(connections.load(Ordering::SeqCst), 1, "retried");

    // 100 fields, the limit, are fine.
    let (addr, _) = answering(fields(99)).await;
    let resp = get(&transport(addr, quick())).await.unwrap();
    assert_eq!(resp.into_body().collect_bytes().await.unwrap(), "{}");
}

#[tokio::test]
async fn garbage_instead_of_http_is_a_malformed_response_and_is_not_retried() {
    for garbage in [
        &b"SSH-2.0-OpenSSH_9.6\r\n\r\n"[..],
        b"\x00\x01\x02\xff\xfe garbage \r\n\r\n",
        b"HTTP/1.1 2OO OK\r\ncontent-length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nbad header line\r\n\r\n",
    ] {
        let (addr, connections) = answering(move |_| garbage.to_vec()).await;
        let err = get(&transport(addr, quick())).await.unwrap_err();
        assert!(
            matches!(err, TransportError::MalformedResponse { .. }),
            "{:?}: {err:?}",
            String::from_utf8_lossy(garbage)
        );
        assert!(
            err.to_string()
                .starts_with("the response is not valid HTTP"),
            "{err}"
        );
        assert_eq!(err.kind(), ErrorKind::Response);
        assert!(!err.is_retryable());
        assert_eq!(connections.load(Ordering::SeqCst), 1, "retried");
    }
}

#[tokio::test]
async fn a_broken_chunked_body_is_a_malformed_response() {
    let (addr, _) = answering(|_| {
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\nzz\r\n".to_vec()
    })
    .await;
    let resp = get(&transport(addr, quick())).await.unwrap();
    let err = resp.into_body().collect_bytes().await.unwrap_err();
    assert!(
        matches!(err, TransportError::MalformedResponse { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_connection_dropped_before_the_response_is_retried() {
    // The first connection is closed without an answer; the next one is answered.
    let (addr, connections) = answering(|i| {
        if i == 0 {
            Vec::new()
        } else {
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}".to_vec()
        }
    })
    .await;
    let resp = get(&transport(addr, quick())).await.unwrap();
    assert_eq!(resp.into_body().collect_bytes().await.unwrap(), "{}");
    assert_eq!(connections.load(Ordering::SeqCst), 2);

    // Without retries it surfaces as a connection failure that may clear up.
    let (addr, _) = answering(|_| Vec::new()).await;
    let err = get(&transport(addr, RetryConfig::disabled()))
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::Io { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_body_cut_short_is_a_connection_failure() {
    let (addr, _) =
        answering(|_| b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"result\"".to_vec()).await;
    let resp = get(&transport(addr, quick())).await.unwrap();
    let err = resp.into_body().collect_bytes().await.unwrap_err();
    assert!(matches!(err, TransportError::Io { .. }), "{err:?}");
    assert!(err.is_retryable());
}
