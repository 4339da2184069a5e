//! Connection options: TLS (`--ca-file`, `--insecure`), `--proxy`, `--timeout`, environment.

use snow_devinstance::{DevConfig, FaultKind, FaultRule, Trigger};

use crate::common::{Dev, snow_bare};

#[test]
fn tls_with_a_ca_file_or_insecure() {
    let dev = Dev::with(DevConfig {
        records: 5,
        tls: true,
        ..DevConfig::default()
    });
    assert!(dev.url.starts_with("https://"), "{}", dev.url);
    let pem = dev.admin_ca_pem();
    let ca = dev.path("ca.pem");
    std::fs::write(&ca, pem).unwrap();

    // Not trusted: a TLS failure, exit 7.
    let err = dev
        .snow(&["table", "list", "incident", "--limit", "1"])
        .run()
        .fails(7);
    assert!(
        err.to_lowercase().contains("certificate") || err.contains("TLS"),
        "{err}"
    );

    // Trusted through --ca-file (or SNOW_CA_FILE).
    let run = dev
        .snow(&[
            "table",
            "list",
            "incident",
            "--limit",
            "1",
            "-F",
            "jsonl",
            "--ca-file",
            ca.to_str().unwrap(),
        ])
        .run();
    assert_eq!(run.lines().len(), 1, "{run:#?}");
    let run = dev
        .snow(&["table", "list", "incident", "--limit", "1", "-F", "jsonl"])
        .env("SNOW_CA_FILE", &ca)
        .run();
    assert_eq!(run.lines().len(), 1, "{run:#?}");

    // --insecure works, and says loudly what it costs, every time.
    let run = dev
        .snow(&[
            "table",
            "list",
            "incident",
            "--limit",
            "1",
            "-F",
            "jsonl",
            "--insecure",
        ])
        .run();
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(
        run.stderr.contains("WARNING") && run.stderr.contains("NOT verified"),
        "{}",
        run.stderr
    );
}

#[test]
fn timeouts_and_proxies_are_applied() {
    let dev = Dev::with(DevConfig {
        records: 5,
        faults: vec![
            FaultRule::new(FaultKind::Latency { millis: 3000 }, Trigger::Always)
                .path_prefix("/api/now/table/incident"),
        ],
        ..DevConfig::default()
    });
    let started = std::time::Instant::now();
    let err = dev
        .snow(&[
            "table",
            "list",
            "incident",
            "--timeout",
            "1",
            "--attempts",
            "1",
        ])
        .run()
        .fails(7);
    assert!(err.contains("time"), "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_millis(2900),
        "the timeout was not applied"
    );

    // A proxy nobody listens on: every call goes through it, so it fails to connect.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = dev
        .snow(&[
            "table",
            "list",
            "incident",
            "--attempts",
            "1",
            "--proxy",
            &format!("http://u:proxy-pw@127.0.0.1:{port}"),
        ])
        .run()
        .fails(7);
    assert!(!err.contains("proxy-pw"), "{err}");
}

#[test]
fn the_environment_names_the_instance_and_credentials() {
    let dev = Dev::start(5);
    let home = tempfile::tempdir().unwrap();
    let run = snow_bare(home.path())
        .args(&["table", "list", "incident", "--limit", "2", "-F", "jsonl"])
        .env("SNOW_URL", &dev.url)
        .env("SNOW_USER", "reader")
        .env("SNOW_PASSWORD", "reader")
        .run();
    assert_eq!(run.lines().len(), 2, "{run:#?}");
    // reader may not write: exit 3 (not allowed).
    let err = snow_bare(home.path())
        .args(&[
            "table",
            "create",
            "incident",
            "--set",
            "short_description=x",
        ])
        .env("SNOW_URL", &dev.url)
        .env("SNOW_USER", "reader")
        .env("SNOW_PASSWORD", "reader")
        .run()
        .fails(3);
    assert!(err.contains("403"), "{err}");
    // An API key from the environment.
    let key = dev.admin().mint_api_key("itil").unwrap();
    let run = snow_bare(home.path())
        .args(&["auth", "status", "-F", "json"])
        .env("SNOW_URL", &dev.url)
        .env("SNOW_API_KEY", &key)
        .run();
    let v: serde_json::Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:#?}"));
    assert_eq!(v["logged_in_as"], "itil");
    assert_eq!(v["auth"], "API key");
}
