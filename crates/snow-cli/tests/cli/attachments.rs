//! `snow attachment`.

use crate::common::Dev;

#[test]
fn upload_list_download_delete() {
    let dev = Dev::start(10);
    let rec: serde_json::Value = serde_json::from_str(
        &dev.snow(&[
            "table", "list", "incident", "--limit", "1", "--fields", "sys_id", "-F", "jsonl",
        ])
        .run()
        .ok(),
    )
    .unwrap();
    let incident = rec["sys_id"].as_str().unwrap().to_owned();
    let file = dev.path("notes.txt");
    let content: Vec<u8> = (0..300_000u32)
        .map(|i| b"abcdefghij\n"[(i % 11) as usize])
        .collect();
    std::fs::write(&file, &content).unwrap();

    let meta: serde_json::Value = serde_json::from_str(
        &dev.snow(&[
            "attachment",
            "upload",
            "incident",
            &incident,
            file.to_str().unwrap(),
            "-F",
            "json",
        ])
        .run()
        .ok(),
    )
    .unwrap();
    assert_eq!(meta["file_name"], "notes.txt");
    assert_eq!(meta["content_type"], "text/plain");
    assert_eq!(meta["size_bytes"], content.len().to_string());
    let id = meta["sys_id"].as_str().unwrap().to_owned();

    let listed = dev
        .snow(&[
            "attachment",
            "list",
            "--table",
            "incident",
            "--record",
            &incident,
            "-F",
            "csv",
        ])
        .run()
        .ok();
    assert!(
        listed.starts_with("sys_id,file_name,content_type,size_bytes,table_name,table_sys_id"),
        "{listed}"
    );
    assert!(
        listed.contains(&id) && listed.contains("notes.txt"),
        "{listed}"
    );

    // To a named file, to standard output, and to its own name in the current directory.
    let back = dev.path("back.txt");
    dev.snow(&["attachment", "download", &id, "-o", back.to_str().unwrap()])
        .run()
        .ok();
    assert_eq!(std::fs::read(&back).unwrap(), content);
    let piped = dev.snow(&["attachment", "download", &id]).run();
    assert_eq!(piped.code, 0);
    assert_eq!(piped.stdout.as_bytes(), &content[..]);
    let dir = dev.path("dl");
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = dev.snow(&[
        "attachment",
        "download",
        &id,
        "-o",
        dir.join("notes.txt").to_str().unwrap(),
    ]);
    cmd.cmd.current_dir(&dir);
    cmd.run().ok();
    assert_eq!(std::fs::read(dir.join("notes.txt")).unwrap(), content);
    let err = dev
        .snow(&[
            "attachment",
            "download",
            &id,
            "-o",
            dir.join("notes.txt").to_str().unwrap(),
        ])
        .run()
        .fails(2);
    assert!(err.contains("--force"), "{err}");

    dev.snow(&["attachment", "delete", &id]).run().ok();
    dev.snow(&["attachment", "download", &id, "-o", "-"])
        .run()
        .fails(4);
    let err = dev
        .snow(&[
            "attachment",
            "upload",
            "incident",
            &incident,
            "/nonexistent/file",
        ])
        .run()
        .fails(2);
    assert!(err.contains("/nonexistent/file"), "{err}");
}
