//! Exit codes and messages: one line each, a JSON object with `--format json`, no secrets.

use snow_devinstance::{FaultKind, FaultRule, RateLimitRule, Trigger};

use crate::common::{Dev, snow_bare};

#[test]
fn bad_credentials_exit_3() {
    let dev = Dev::start(10);
    let err = dev
        .snow(&["table", "list", "incident", "--limit", "1"])
        .env("SNOW_PASSWORD", "wrong-password-123")
        .run()
        .fails(3);
    assert!(err.starts_with("snow: error: "), "{err}");
    assert!(err.contains("401") && err.contains("credentials"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!err.contains("wrong-password-123"), "{err}");
}

#[test]
fn no_credentials_exit_3() {
    let dev = Dev::start(10);
    let err = dev
        .snow(&["table", "list", "incident"])
        .env_remove("SNOW_USER")
        .env_remove("SNOW_PASSWORD")
        .run()
        .fails(3);
    assert!(err.contains("no credentials"), "{err}");
    // A user without a password, and no terminal to ask on.
    let err = dev
        .snow(&["table", "list", "incident"])
        .env_remove("SNOW_PASSWORD")
        .run()
        .fails(3);
    assert!(err.contains("no password for admin"), "{err}");
}

#[test]
fn unknown_table_exits_4() {
    let dev = Dev::start(10);
    let err = dev.snow(&["table", "list", "no_such_table"]).run().fails(4);
    assert!(err.contains("Invalid table no_such_table"), "{err}");
    let err = dev.snow(&["export", "no_such_table"]).run().fails(4);
    assert!(err.contains("Invalid table"), "{err}");
}

#[test]
fn a_hibernating_instance_exits_6() {
    let dev = Dev::start(10);
    dev.admin().hibernate(true);
    let err = dev.snow(&["table", "list", "incident"]).run().fails(6);
    assert!(err.contains("hibernating"), "{err}");
    // OAuth's token call meets the hibernation page too.
    let err = dev
        .snow(&[
            "table",
            "list",
            "incident",
            "--client-id",
            "snow-dev",
            "--client-secret",
            "snow-dev-secret",
        ])
        .run()
        .fails(6);
    assert!(err.contains("hibernating"), "{err}");
}

#[test]
fn a_rate_limit_exits_5() {
    let dev = Dev::start(10);
    dev.admin()
        .set_rate_limits(vec![RateLimitRule::new(Some("admin"), 1, 3600)]);
    dev.snow(&["table", "list", "incident", "--limit", "1"])
        .run()
        .ok();
    let err = dev
        .snow(&["table", "list", "incident", "--limit", "1"])
        .run()
        .fails(5);
    assert!(err.contains("rate limited"), "{err}");
}

#[test]
fn server_errors_exit_8_and_unavailable_6() {
    let dev = Dev::start(10);
    dev.admin().add_fault(FaultRule::new(
        FaultKind::ServerError { status: 500 },
        Trigger::Always,
    ));
    dev.snow(&["table", "list", "incident", "--attempts", "1"])
        .run()
        .fails(8);
    dev.admin().clear_faults();
    dev.admin().add_fault(FaultRule::new(
        FaultKind::ServerError { status: 503 },
        Trigger::Always,
    ));
    dev.snow(&["table", "list", "incident", "--attempts", "1"])
        .run()
        .fails(6);
}

#[test]
fn no_connection_exits_7() {
    let home = tempfile::tempdir().unwrap();
    // A port nothing listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = snow_bare(home.path())
        .args(&[
            "--url",
            &format!("http://127.0.0.1:{port}"),
            "-u",
            "admin",
            "--attempts",
            "1",
            "table",
            "list",
            "incident",
        ])
        .env("SNOW_PASSWORD", "admin")
        .run()
        .fails(7);
    assert!(err.contains("connect"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let home = tempfile::tempdir().unwrap();
    snow_bare(home.path())
        .args(&["table", "frobnicate"])
        .run()
        .fails(2);
    let err = snow_bare(home.path())
        .args(&[
            "--url",
            "http://example.com",
            "-u",
            "a",
            "table",
            "list",
            "incident",
        ])
        .run()
        .fails(2);
    assert!(err.contains("--allow-http"), "{err}");
    let err = snow_bare(home.path())
        .args(&["-u", "a", "table", "list", "incident"])
        .run()
        .fails(2);
    assert!(err.contains("no instance"), "{err}");
    let err = snow_bare(home.path())
        .args(&["--instance", "a b", "-u", "a", "table", "list", "incident"])
        .run()
        .fails(2);
    assert!(err.contains("instance"), "{err}");
}

#[test]
fn errors_are_json_objects_with_format_json() {
    let dev = Dev::start(10);
    let err = dev
        .snow(&[
            "table",
            "get",
            "incident",
            "0123456789abcdef0123456789abcdef",
            "--format",
            "json",
        ])
        .run()
        .fails(4);
    let v: serde_json::Value =
        serde_json::from_str(err.trim()).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert_eq!(v["error"]["kind"], "not_found");
    assert_eq!(v["error"]["exit_code"], 4);
    assert_eq!(v["error"]["status"], 404);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("No Record found")
    );
}

#[test]
fn verbose_logs_requests_but_never_secrets() {
    let dev = Dev::start(10);
    let secret = "s3cret-Pa55word";
    dev.admin().write_db(|_| ()); // the instance only knows admin/admin: use an API key instead
    let key = dev.admin().mint_api_key("admin").unwrap();
    let run = dev
        .snow(&["-v", "table", "list", "incident", "--limit", "1"])
        .env_remove("SNOW_USER")
        .env("SNOW_PASSWORD", secret)
        .env("SNOW_API_KEY", &key)
        .run();
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(
        run.stderr.contains("GET /api/now/table/incident"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("200"), "{}", run.stderr);
    for s in [secret, key.as_str()] {
        assert!(
            !run.stderr.contains(s) && !run.stdout.contains(s),
            "secret printed: {run:#?}"
        );
    }
    // Basic: neither the password nor its base64 form appears.
    let run = dev
        .snow(&["-v", "table", "list", "incident", "--limit", "1"])
        .run();
    assert_eq!(run.code, 0);
    for s in [
        "admin:admin",
        "YWRtaW46YWRtaW4=",
        "Authorization",
        "authorization",
    ] {
        assert!(!run.stderr.contains(s), "{s} printed: {}", run.stderr);
    }
    // OAuth: no token or client secret.
    let run = dev
        .snow(&[
            "-v",
            "table",
            "list",
            "incident",
            "--limit",
            "1",
            "--client-id",
            "snow-dev",
            "--client-secret",
            "snow-dev-secret",
        ])
        .run();
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(!run.stderr.contains("snow-dev-secret"), "{}", run.stderr);
    let token_file = dev.path("config/snow/tokens");
    let token_json = std::fs::read_dir(&token_file)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let token: serde_json::Value =
        serde_json::from_slice(&std::fs::read(token_json).unwrap()).unwrap();
    let access = token["access_token"].as_str().unwrap();
    assert!(
        !run.stderr.contains(access),
        "token printed: {}",
        run.stderr
    );
}

#[test]
fn help_lists_the_exit_codes() {
    let home = tempfile::tempdir().unwrap();
    let help = snow_bare(home.path()).args(&["--help"]).run().ok();
    for needle in [
        "Exit codes:",
        "usage",
        "auth",
        "not found",
        "rate limited",
        "unavailable",
        "network",
        "server",
    ] {
        assert!(help.contains(needle), "{needle}: {help}");
    }
    // Secrets from the environment never show in help.
    let help = snow_bare(home.path())
        .args(&["--help"])
        .env("SNOW_PASSWORD", "hunter2-in-env")
        .run()
        .ok();
    assert!(!help.contains("hunter2-in-env"), "{help}");
}
