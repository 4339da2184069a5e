//! `Client::from_env` against the dev instance. Variables come from an injected source, or
//! from the real environment of a child process (this test binary, run again with only the
//! `SNOW_*` variables it is given), never from this process's own environment, which other
//! tests share.

use std::collections::HashMap;
use std::process::Command;

use snow_client::{Client, ClientBuilder, OAuthClientBuilder, Record};

const T: &str = "/api/now/table/incident";

fn source(pairs: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<&str, String> = pairs.into_iter().collect();
    move |name| map.get(name).cloned()
}

fn users(dev: &snow_devinstance::DevInstance) -> Vec<Option<String>> {
    crate::common::log_for(dev, T)
        .into_iter()
        .map(|r| r.user)
        .collect()
}

#[tokio::test]
async fn basic_api_key_and_oauth_from_variables() {
    let dev = crate::common::start(3).await;
    let url = dev.base_url().to_owned();

    let basic = ClientBuilder::from_env_with(source(vec![
        ("SNOW_URL", url.clone()),
        ("SNOW_USER", "reader".into()),
        ("SNOW_PASSWORD", "reader".into()),
    ]))
    .unwrap()
    .default_header("x-from", "env")
    .build()
    .unwrap();
    let _: Record = basic.table("incident").list().first().await.unwrap();

    let key = dev.admin().mint_api_key("itil").unwrap();
    let api_key = ClientBuilder::from_env_with(source(vec![
        ("SNOW_INSTANCE", url.clone()),
        ("SNOW_API_KEY", key),
    ]))
    .unwrap()
    .build()
    .unwrap();
    let _: Record = api_key.table("incident").list().first().await.unwrap();

    let oauth = ClientBuilder::from_env_with(source(vec![
        ("SNOW_URL", url.clone()),
        ("SNOW_CLIENT_ID", "snow-dev".into()),
        ("SNOW_CLIENT_SECRET", "snow-dev-secret".into()),
        ("SNOW_USER", "admin".into()),
        ("SNOW_PASSWORD", "admin".into()),
    ]))
    .unwrap()
    .build()
    .unwrap();
    let _: Record = oauth.table("incident").list().first().await.unwrap();
    assert_eq!(dev.admin().counters().grants("password"), 1);

    // Client credentials: an OAuth client without a user or a token file.
    let cc = ClientBuilder::from_env_with(source(vec![
        ("SNOW_URL", url.clone()),
        ("SNOW_CLIENT_ID", "snow-dev".into()),
        ("SNOW_CLIENT_SECRET", "snow-dev-secret".into()),
    ]))
    .unwrap()
    .build()
    .unwrap();
    let _: Record = cc.table("incident").list().first().await.unwrap();
    assert_eq!(dev.admin().counters().grants("client_credentials"), 1);

    assert_eq!(
        users(&dev),
        [
            Some("reader".to_owned()),
            Some("itil".to_owned()),
            Some("admin".to_owned()),
            Some("admin".to_owned())
        ]
    );
    let first = &crate::common::log_for(&dev, T)[0];
    assert!(
        first
            .headers
            .iter()
            .any(|(k, v)| k == "x-from" && v == "env")
    );
}

#[tokio::test]
async fn a_token_file_carries_the_token_to_the_next_run() {
    let dev = crate::common::start(2).await;
    let dir = std::env::temp_dir().join(format!("snow-from-env-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("token.json");
    let vars = |with_user: bool| {
        let mut v = vec![
            ("SNOW_URL", dev.base_url().to_owned()),
            ("SNOW_CLIENT_ID", "snow-dev".to_owned()),
            ("SNOW_CLIENT_SECRET", "snow-dev-secret".to_owned()),
            ("SNOW_TOKEN_FILE", file.display().to_string()),
        ];
        if with_user {
            v.push(("SNOW_USER", "itil".to_owned()));
            v.push(("SNOW_PASSWORD", "itil".to_owned()));
        }
        source(v)
    };

    // First run: the password grant, and the token saved to the file.
    let first = OAuthClientBuilder::from_env_with(vars(true))
        .unwrap()
        .build()
        .unwrap();
    let _: Record = first.table("incident").list().first().await.unwrap();
    assert!(file.exists());
    assert_eq!(dev.admin().counters().grants("password"), 1);

    // Next run: no password, the token comes from the file.
    let next = OAuthClientBuilder::from_env_with(vars(false))
        .unwrap()
        .build()
        .unwrap();
    let _: Record = next.table("incident").list().first().await.unwrap();
    assert_eq!(dev.admin().counters().grants("password"), 1);
    assert_eq!(
        next.oauth()
            .token()
            .map(|t| t.access_token_str().to_owned()),
        first
            .oauth()
            .token()
            .map(|t| t.access_token_str().to_owned())
    );
    assert_eq!(
        users(&dev),
        [Some("itil".to_owned()), Some("itil".to_owned())]
    );

    // An OAuth client builder needs the OAuth variables.
    let e = OAuthClientBuilder::from_env_with(source(vec![
        ("SNOW_URL", dev.base_url().to_owned()),
        ("SNOW_USER", "itil".into()),
        ("SNOW_PASSWORD", "itil".into()),
    ]))
    .unwrap_err();
    assert!(e.to_string().contains("SNOW_CLIENT_ID"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Run by [`from_env_reads_the_process_environment`] in a child process whose environment it
/// sets; fails when run without it.
#[tokio::test]
#[ignore = "run in a child process by from_env_reads_the_process_environment"]
async fn child_from_env() {
    let client = Client::from_env().expect("a client from the environment");
    let r: Record = client.table("incident").list().first().await.unwrap();
    assert!(r.sys_id().is_some());
}

// Multi-threaded: the dev instance serves the child while this test waits for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_env_reads_the_process_environment() {
    let dev = crate::common::start(2).await;
    let run = |vars: &[(&str, &str)]| {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "--exact",
            "from_env::child_from_env",
            "--ignored",
            "--test-threads=1",
        ]);
        for (k, _) in std::env::vars() {
            if k.starts_with("SNOW_") || k.to_ascii_lowercase().ends_with("_proxy") {
                cmd.env_remove(k);
            }
        }
        cmd.envs(vars.iter().copied());
        cmd.output().unwrap()
    };
    let out = run(&[
        ("SNOW_URL", dev.base_url()),
        ("SNOW_USER", "reader"),
        ("SNOW_PASSWORD", "reader"),
        // A proxy that does not exist, and NO_PROXY exempting the instance.
        ("HTTP_PROXY", "http://127.0.0.1:9"),
        ("NO_PROXY", "localhost,127.0.0.1"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(users(&dev), [Some("reader".to_owned())]);

    // Without NO_PROXY the same proxy is used, and fails to connect.
    let out = run(&[
        ("SNOW_URL", dev.base_url()),
        ("SNOW_USER", "reader"),
        ("SNOW_PASSWORD", "reader"),
        ("HTTP_PROXY", "http://127.0.0.1:9"),
    ]);
    assert!(!out.status.success());
    assert_eq!(
        users(&dev).len(),
        1,
        "the request never reached the instance"
    );

    // The child test cannot pass without its variables.
    let out = run(&[]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&[out.stdout.as_slice(), &out.stderr].concat())
            .contains("neither SNOW_INSTANCE nor SNOW_URL"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
