//! Every kind of `snow_client::Error` produced for real (against the dev instance, a closed
//! port, a TLS instance without its CA, a hibernating instance, a refused token...), with its
//! whole source chain: the message carries what each source says (so printing the message
//! alone loses nothing) and says each thing once.

use std::error::Error as _;
use std::time::Duration;

use serde_json::json;
use snow_client::transport::{Proxy, RetryConfig, Transport};
use snow_client::{Client, Error, Instance, Record};
use snow_devinstance::{DevConfig, DevInstance, FaultKind, FaultRule, Trigger};

/// The error's own message, then each source's, outermost first.
fn chain(e: &Error) -> Vec<String> {
    let mut out = vec![e.to_string()];
    let mut next = e.source();
    while let Some(s) = next {
        out.push(s.to_string());
        next = s.source();
    }
    out
}

/// The words of a text, lower case, punctuation dropped.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '_' && c != '-')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// A run of `n` words said twice in `text`, if any.
fn repeat(text: &str, n: usize) -> Option<String> {
    let w = words(text);
    let grams: Vec<String> = w.windows(n).map(|g| g.join(" ")).collect();
    grams
        .iter()
        .enumerate()
        .find(|(i, g)| grams.get(i + n..).is_some_and(|rest| rest.contains(g)))
        .map(|(_, g)| g.clone())
}

/// Checks one real error: its message says each thing once, and loses neither what its
/// direct source says nor the root cause (the wrappers between, such as hyper's "client
/// error (Connect)", may be left out).
fn check(what: &str, e: &Error) {
    let texts = chain(e);
    let message = &texts[0];
    eprintln!("{what}:\n  message: {message}\n  chain: {:?}", &texts[1..]);
    assert!(!message.contains('\n'), "{what}: one line: {message}");
    if let Some(g) = repeat(message, 3) {
        panic!("{what}: the message says {g:?} twice: {message}");
    }
    let message_words = words(message).join(" ");
    let direct = texts.get(1);
    let root = texts.last().filter(|_| texts.len() > 2);
    for source in direct.into_iter().chain(root) {
        let source_words = words(source).join(" ");
        assert!(
            message_words.contains(&source_words),
            "{what}: the message loses {source:?}: {message}"
        );
    }
}

/// A transport as admin that never retries (to see each failure as it comes).
fn no_retry(url: &str) -> snow_client::transport::TransportBuilder {
    Transport::builder(url.parse::<Instance>().unwrap())
        .auth(snow_client::basic::BasicAuth::new("admin", "admin"))
        .retry(RetryConfig::disabled())
}

async fn first(client: &Client) -> Error {
    client
        .table("incident")
        .list()
        .first::<Record>()
        .await
        .expect_err("an error")
}

#[tokio::test]
async fn transport_failures() {
    // Nothing listens on port 9.
    let refused = Client::basic("http://127.0.0.1:9", "admin", "admin").unwrap();
    let e = first(&refused).await;
    assert!(matches!(e, Error::Connect(_)), "{e:?}");
    check("connect", &e);

    // A proxy that is not there.
    let via_dead_proxy = Client::builder("http://127.0.0.1:9")
        .proxy(Proxy::http("http://127.0.0.1:9"))
        .build()
        .unwrap();
    check("proxy connect", &first(&via_dead_proxy).await);

    let dev = crate::common::start(3).await;
    dev.admin().add_fault(FaultRule::new(
        FaultKind::Latency { millis: 2_000 },
        Trigger::Always,
    ));
    let slow = Client::new(
        no_retry(dev.base_url())
            .timeout(Duration::from_millis(100))
            .build()
            .unwrap(),
    );
    let e = first(&slow).await;
    assert!(matches!(e, Error::Timeout(_)), "{e:?}");
    check("timeout", &e);
    assert_eq!(e.to_string().matches("timed out").count(), 1, "{e}");

    dev.admin().clear_faults();
    dev.admin()
        .add_fault(FaultRule::new(FaultKind::ConnectionReset, Trigger::Always));
    let e = first(&Client::new(no_retry(dev.base_url()).build().unwrap())).await;
    check("connection reset", &e);

    dev.admin().clear_faults();
    dev.admin()
        .add_fault(FaultRule::new(FaultKind::TruncatedBody, Trigger::Always));
    let e = first(&Client::new(no_retry(dev.base_url()).build().unwrap())).await;
    check("truncated body", &e);

    dev.admin().clear_faults();
    let small = Client::new(
        no_retry(dev.base_url())
            .max_response_body(100)
            .build()
            .unwrap(),
    );
    let e = first(&small).await;
    assert!(matches!(e, Error::BodyTooLarge { .. }), "{e:?}");
    check("body too large", &e);

    let tls = DevInstance::start(DevConfig {
        records: 1,
        tls: true,
        ..DevConfig::default()
    })
    .await
    .unwrap();
    let e = first(&Client::basic(tls.base_url(), "admin", "admin").unwrap()).await;
    assert!(matches!(e, Error::Tls(_)), "{e:?}");
    check("tls", &e);
}

#[tokio::test]
async fn answers_of_the_instance() {
    let dev = crate::common::start(3).await;
    let wrong = Client::new(
        no_retry(dev.base_url())
            .auth(snow_client::basic::BasicAuth::new("admin", "wrong"))
            .build()
            .unwrap(),
    );
    check("401", &first(&wrong).await);
    let c = Client::new(no_retry(dev.base_url()).build().unwrap());
    let e = c
        .table("incident")
        .get("00000000000000000000000000000000")
        .await;
    check("404", &e.unwrap_err());
    let e = c.table("no_such_table").list().first::<Record>().await;
    check("400", &e.unwrap_err());
    let e = c
        .table("incident")
        .list()
        .raw_query("numberFOO1")
        .first::<Record>()
        .await;
    check("invalid query answer", &e.unwrap_err());

    for (name, fault) in [
        ("429", FaultKind::Semaphore),
        ("202", FaultKind::SessionRejected),
        ("500", FaultKind::ServerError { status: 500 }),
        ("503", FaultKind::ServerError { status: 503 }),
        ("cancelled", FaultKind::TransactionCancelled),
        ("hibernating", FaultKind::Hibernate),
    ] {
        dev.admin().clear_faults();
        dev.admin()
            .add_fault(FaultRule::new(fault, Trigger::Always));
        let e = c
            .table("incident")
            .list()
            .cancel_retries(0)
            .first::<Record>()
            .await
            .unwrap_err();
        check(name, &e);
    }
    dev.admin().clear_faults();

    check(
        "no results",
        &c.table("incident")
            .list()
            .query(snow_client::query::field("number").eq("NOPE"))
            .one::<Record>()
            .await
            .unwrap_err(),
    );
    check(
        "multiple results",
        &c.table("incident")
            .list()
            .one::<Record>()
            .await
            .unwrap_err(),
    );
    #[derive(Debug, serde::Deserialize)]
    struct Wrong {
        #[serde(rename = "number")]
        _number: u32,
    }
    check(
        "decode",
        &c.table("incident")
            .list()
            .first::<Wrong>()
            .await
            .unwrap_err(),
    );
    let r: Record = c.table("incident").list().first().await.unwrap();
    check("field value", &r.i64("short_description").unwrap_err());
    check(
        "invalid query",
        &c.table("incident")
            .list()
            .query(snow_client::query::field("a b").eq(1))
            .first::<Record>()
            .await
            .unwrap_err(),
    );
    check(
        "invalid input",
        &c.table("incident").create(&json!([1])).await.unwrap_err(),
    );
}

#[tokio::test]
async fn credentials_and_settings() {
    let dev = crate::common::start(1).await;
    // A refused password grant, through the client's token handle and through an API call.
    let oauth = Client::oauth_client(dev.base_url(), "snow-dev", "snow-dev-secret")
        .build()
        .unwrap();
    check(
        "token refused",
        &oauth
            .oauth()
            .generate_token("admin", "wrong")
            .await
            .unwrap_err(),
    );
    check("no token", &first(&oauth).await);
    let refused =
        Client::oauth_password(dev.base_url(), "snow-dev", "wrong", "admin", "admin").unwrap();
    check("client secret refused", &first(&refused).await);
    // A token endpoint that cannot be reached.
    let unreachable = Client::oauth_password(
        "http://127.0.0.1:9",
        "snow-dev",
        "snow-dev-secret",
        "a",
        "b",
    )
    .unwrap();
    check("token endpoint unreachable", &first(&unreachable).await);

    dev.admin().hibernate(true);
    check(
        "token endpoint hibernating",
        &oauth
            .oauth()
            .generate_token("admin", "admin")
            .await
            .unwrap_err(),
    );
    dev.admin().hibernate(false);

    check(
        "bad instance",
        &Client::basic("ftp://x", "a", "b").unwrap_err(),
    );
    check(
        "bad proxy",
        &Client::builder("acme")
            .proxy(Proxy::http("socks5://proxy:1080"))
            .build()
            .unwrap_err(),
    );
    check(
        "bad token url",
        &Client::oauth_client("acme", "id", "secret")
            .oauth(|b| b.token_url("::"))
            .build()
            .unwrap_err(),
    );
    check(
        "environment",
        &snow_client::ClientBuilder::from_env_with(|_| None).unwrap_err(),
    );
}
