//! `snow auth login|status|logout`.

use crate::common::Dev;

const CLIENT: [(&str, &str); 2] = [
    ("SNOW_CLIENT_ID", "snow-dev"),
    ("SNOW_CLIENT_SECRET", "snow-dev-secret"),
];

#[test]
fn login_status_use_logout() {
    let dev = Dev::start(20);
    let token_file = dev.path("tok/token.json");
    let tf = token_file.to_str().unwrap();
    let with_client = |c: crate::common::Cmd| CLIENT.iter().fold(c, |c, (k, v)| c.env(k, v));
    let out = with_client(dev.snow(&["auth", "login", "--token-file", tf, "-F", "json"]))
        .run()
        .ok();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["user"], "admin");
    assert_eq!(v["refresh_token"], true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "token file mode {mode:o}");
        let dir_mode = std::fs::metadata(token_file.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700, "token dir mode {dir_mode:o}");
    }
    let stored = std::fs::read_to_string(&token_file).unwrap();
    assert!(!out.contains("access_token\":\""), "{out}");
    let access = serde_json::from_str::<serde_json::Value>(&stored).unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!out.contains(&access));

    // Later commands need no password: the stored token is used (and refreshed).
    let grants_before = dev.admin().counters().grants("password");
    let status = with_client(dev.snow(&["auth", "status", "--token-file", tf, "-F", "json"]))
        .env_remove("SNOW_USER")
        .env_remove("SNOW_PASSWORD")
        .run()
        .ok();
    let s: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(s["logged_in_as"], "admin", "{status}");
    assert_eq!(s["check"], "ok");
    assert!(s["auth"].as_str().unwrap().starts_with("OAuth"), "{status}");
    assert!(!status.contains(&access));
    dev.admin().set_clock_skew_secs(3600); // the token has expired at the instance
    let listed = with_client(dev.snow(&[
        "table",
        "list",
        "incident",
        "--limit",
        "2",
        "--token-file",
        tf,
        "-F",
        "jsonl",
    ]))
    .env_remove("SNOW_USER")
    .env_remove("SNOW_PASSWORD")
    .run();
    assert_eq!(listed.lines().len(), 2, "{listed:#?}");
    assert_eq!(dev.admin().counters().grants("password"), grants_before);
    assert!(dev.admin().counters().grants("refresh_token") >= 1);
    dev.admin().set_clock_skew_secs(0);

    // Logout revokes the refresh and access tokens and deletes the file.
    let revokes = dev.admin().counters().requests_to("/oauth_revoke_token.do");
    with_client(dev.snow(&["auth", "logout", "--token-file", tf]))
        .run()
        .ok();
    assert!(!token_file.exists());
    assert_eq!(
        dev.admin().counters().requests_to("/oauth_revoke_token.do"),
        revokes + 2
    );
    let err = dev
        .snow(&["table", "list", "incident", "--token-file", tf])
        .env_remove("SNOW_USER")
        .env_remove("SNOW_PASSWORD")
        .run()
        .fails(3);
    assert!(err.contains("no credentials"), "{err}");
    // Logging out twice is fine.
    with_client(dev.snow(&["auth", "logout", "--token-file", tf]))
        .run()
        .ok();
}

#[test]
fn a_refused_login_exits_3() {
    let dev = Dev::start(10);
    let err = dev
        .snow(&[
            "auth",
            "login",
            "--token-file",
            dev.path("t.json").to_str().unwrap(),
        ])
        .env("SNOW_CLIENT_ID", "snow-dev")
        .env("SNOW_CLIENT_SECRET", "wrong-secret-xyz")
        .run()
        .fails(3);
    assert!(!err.contains("wrong-secret-xyz"), "{err}");
    assert!(!dev.path("t.json").exists());
}

#[test]
fn status_with_basic_auth_and_profiles() {
    let dev = Dev::start(10);
    let config = dev.path("config/snow/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(
        &config,
        format!(
            "[profiles.local]\nurl = \"{}\"\nuser = \"itil\"\npassword = \"itil\"\n",
            dev.url
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let home = dev.home.path();
    let run = crate::common::snow_bare(home)
        .args(&["--profile", "local", "auth", "status", "-F", "json"])
        .run();
    let s: serde_json::Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:#?}"));
    assert_eq!(s["logged_in_as"], "itil");
    assert_eq!(s["auth"], "Basic auth as itil");
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    let err = crate::common::snow_bare(home)
        .args(&["--profile", "nope", "auth", "status"])
        .run()
        .fails(2);
    assert!(err.contains("it has: local"), "{err}");
    // A wrong password in the profile: exit 3.
    std::fs::write(
        &config,
        format!("default_profile = \"local\"\n[profiles.local]\nurl = \"{}\"\nuser = \"itil\"\npassword = \"nope\"\n", dev.url),
    )
    .unwrap();
    crate::common::snow_bare(home)
        .args(&["auth", "status"])
        .run()
        .fails(3);
}
