//! A basic-auth call through the transport, against a tiny server this example starts itself
//! on 127.0.0.1 (so it runs anywhere, offline).
//!
//! ```text
//! cargo run -p snow-transport --example basic
//! ```

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use snow_basic::BasicAuth;
use snow_transport::{Body, Instance, Transport};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A stand-in for an instance: answers every request with one incident, and echoes the
    // Authorization header it received.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let svc = service_fn(|req: http::Request<hyper::body::Incoming>| async move {
                    let auth = req
                        .headers()
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("none")
                        .to_owned();
                    let body = format!(
                        r#"{{"result":[{{"number":"INC0010001","short_description":"printer on fire","seen_auth":"{auth}"}}]}}"#
                    );
                    Ok::<_, Infallible>(
                        http::Response::builder()
                            .header("content-type", "application/json;charset=UTF-8")
                            .body(Full::new(Bytes::from(body)))
                            .expect("static response"),
                    )
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });

    // The client side: an instance, an authenticator, a transport.
    let instance = Instance::from_url(&format!("http://{addr}"))?;
    let transport = Transport::builder(instance)
        .auth(BasicAuth::new("admin", "s3cret"))
        .build()?;
    println!("{transport:?}\n");

    let req = http::Request::get("/api/now/table/incident?sysparm_limit=1").body(Body::empty())?;
    let resp = transport.send(req).await?;
    println!("{} {:?}", resp.status(), resp.headers().get("content-type"));
    let body = resp.into_body().collect_bytes().await?;
    println!("{}", String::from_utf8_lossy(&body));
    Ok(())
}
