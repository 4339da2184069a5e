//! Shared helpers: a dev instance per test and clients against it.

use snow_client::Client;
use snow_client::basic::BasicAuth;
use snow_client::transport::{RetryConfig, Transport};
use snow_devinstance::{DevConfig, DevInstance, LoggedRequest};

pub(crate) async fn start(records: usize) -> DevInstance {
    DevInstance::start(DevConfig {
        records,
        ..DevConfig::default()
    })
    .await
    .expect("dev instance starts")
}

/// Basic-auth client with the default transport (retries on).
pub(crate) fn client(dev: &DevInstance, user: &str) -> Client {
    Client::basic(dev.base_url(), user, user).expect("client")
}

/// Basic-auth client that never retries (to observe each error as it comes).
pub(crate) fn client_no_retry(dev: &DevInstance, user: &str) -> Client {
    let instance: snow_client::Instance = dev.base_url().parse().expect("instance");
    let t = Transport::builder(instance)
        .auth(BasicAuth::new(user, user))
        .retry(RetryConfig::disabled())
        .build()
        .expect("transport");
    Client::new(t)
}

/// The decoded query pairs of a logged request.
pub(crate) fn params(r: &LoggedRequest) -> Vec<(String, String)> {
    r.query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}

pub(crate) fn param(r: &LoggedRequest, name: &str) -> Option<String> {
    params(r)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Logged requests to paths starting with `prefix`.
pub(crate) fn log_for(dev: &DevInstance, prefix: &str) -> Vec<LoggedRequest> {
    dev.admin()
        .request_log()
        .into_iter()
        .filter(|r| r.path.starts_with(prefix))
        .collect()
}
