//! snow-client's builders end to end through an HTTP CONNECT proxy, against the dev instance:
//! an `OAuthClient`'s token calls and API calls share one transport (the proxy, the pool), and
//! `HTTP_PROXY` / `NO_PROXY` read by `ClientBuilder::from_env_with` decide whether the proxy is
//! used.

use std::collections::HashMap;

use snow_client::transport::Proxy;
use snow_client::{Client, ClientBuilder, Record};
use snow_devinstance::{DevConfig, DevInstance};
use snow_test_support::proxy::ConnectProxy;

async fn dev() -> DevInstance {
    DevInstance::start(DevConfig {
        records: 3,
        ..DevConfig::default()
    })
    .await
    .expect("dev instance starts")
}

/// `host:port` of the dev instance, as a CONNECT target.
fn target(dev: &DevInstance) -> String {
    dev.base_url().trim_start_matches("http://").to_owned()
}

#[tokio::test]
async fn oauth_token_calls_and_api_calls_share_the_proxy_and_the_pool() {
    let dev = dev().await;
    let proxy = ConnectProxy::start().await;
    let client = Client::oauth_client(dev.base_url(), "snow-dev", "snow-dev-secret")
        .proxy(Proxy::http(proxy.url()))
        .build()
        .unwrap();
    let token = client.oauth().generate_token("itil", "itil").await.unwrap();
    assert!(token.refresh_token().is_some());
    for _ in 0..3 {
        let _: Record = client.table("incident").list().first().await.unwrap();
    }
    client.oauth().revoke().await.unwrap();

    // Token calls and API calls went through the proxy, over one pooled connection.
    let tunnels = proxy.targets();
    assert_eq!(tunnels, [target(&dev)], "one tunnel for all: {tunnels:?}");
    let log = dev.admin().request_log();
    let paths: Vec<&str> = log.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/oauth_token.do",
            "/api/now/table/incident",
            "/api/now/table/incident",
            "/api/now/table/incident",
            "/oauth_revoke_token.do",
            "/oauth_revoke_token.do",
        ]
    );
}

#[tokio::test]
async fn http_proxy_and_no_proxy_from_the_environment() {
    let dev = dev().await;
    let proxy = ConnectProxy::start().await;
    let vars = |no_proxy: Option<&str>| {
        let mut map = HashMap::from([
            ("SNOW_URL", dev.base_url().to_owned()),
            ("SNOW_USER", "reader".to_owned()),
            ("SNOW_PASSWORD", "reader".to_owned()),
            ("HTTP_PROXY", proxy.url()),
        ]);
        if let Some(list) = no_proxy {
            map.insert("NO_PROXY", list.to_owned());
        }
        move |name: &str| map.get(name).cloned()
    };

    let via_proxy = ClientBuilder::from_env_with(vars(None))
        .unwrap()
        .build()
        .unwrap();
    let _: Record = via_proxy.table("incident").list().first().await.unwrap();
    assert_eq!(proxy.targets(), [target(&dev)]);

    // NO_PROXY naming the instance's address: straight to the instance.
    let direct = ClientBuilder::from_env_with(vars(Some("example.com, 127.0.0.0/8")))
        .unwrap()
        .build()
        .unwrap();
    let _: Record = direct.table("incident").list().first().await.unwrap();
    assert_eq!(proxy.targets().len(), 1, "no new tunnel");
    assert_eq!(dev.admin().request_log().len(), 2);
}
