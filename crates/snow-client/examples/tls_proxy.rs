//! TLS, a company CA and an HTTP proxy: a local instance serving HTTPS with its own CA, reached
//! through a small CONNECT proxy, with the same settings for API calls and OAuth token calls.
//! Also: timeouts and retries, and what a missing CA looks like.
//!
//! ```text
//! cargo run -p snow-client --example tls_proxy
//! ```

use std::time::Duration;

use snow_client::transport::{Proxy, RetryConfig, TlsConfig};
use snow_client::{Client, Record};
use snow_devinstance::{DevConfig, DevInstance};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dev = DevInstance::start(DevConfig {
        records: 10,
        tls: true,
        ..DevConfig::default()
    })
    .await?;
    // In real life: std::fs::read("company-ca.pem")?
    let ca = dev
        .ca_pem()
        .expect("a TLS dev instance has a CA")
        .as_bytes()
        .to_vec();
    let proxy = start_connect_proxy().await?;
    println!("instance {} via proxy {proxy}", dev.base_url());

    // Basic auth over HTTPS, trusting the extra CA, through the proxy, with a timeout and
    // five attempts for transient failures.
    let client = Client::builder(dev.base_url())
        .basic("admin", "admin")
        .tls(TlsConfig::default().add_ca_pem(ca.clone()))
        .proxy(Proxy::http(&proxy)) // .basic_auth(user, password) for an authenticating proxy
        .transport(|t| {
            t.timeout(Duration::from_secs(20))
                .connect_timeout(Duration::from_secs(5))
                .retry(RetryConfig::default().max_attempts(5))
        })
        .build()?;
    let one: Record = client.table("incident").list().first().await?;
    println!(
        "read {} over TLS through the proxy",
        one.str("number").unwrap_or("?")
    );

    // OAuth: the token calls use the same CA and proxy; there is no second configuration.
    let oauth = Client::oauth_client(dev.base_url(), "snow-dev", "snow-dev-secret")
        .tls(TlsConfig::default().add_ca_pem(ca))
        .proxy(Proxy::http(&proxy))
        .password("admin", "admin")
        .build()?;
    let rows: Vec<Record> = oauth.table("incident").list().limit(3).all().await?;
    println!(
        "read {} incidents with OAuth over the same settings",
        rows.len()
    );

    // Without the CA the handshake fails, and the error says what to check.
    let untrusting = Client::basic(dev.base_url(), "admin", "admin")?;
    if let Err(e) = untrusting.table("incident").list().first::<Record>().await {
        println!("without the CA: {e}");
    }

    // From the environment instead: HTTPS_PROXY=http://proxy:3128, NO_PROXY=.internal.example
    // (see Client::from_env).
    Ok(())
}

/// A minimal CONNECT proxy on a free loopback port; returns its URL.
async fn start_connect_proxy() -> std::io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(tunnel(client));
        }
    });
    Ok(url)
}

async fn tunnel(mut client: TcpStream) -> std::io::Result<()> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        head.push(client.read_u8().await?);
    }
    let head = String::from_utf8_lossy(&head);
    let target = match head.split(' ').collect::<Vec<_>>().as_slice() {
        ["CONNECT", target, ..] => (*target).to_owned(),
        _ => {
            return client
                .write_all(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
                .await;
        }
    };
    let mut upstream = TcpStream::connect(target).await?;
    client
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}
