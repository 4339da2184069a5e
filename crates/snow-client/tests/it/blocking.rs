//! The blocking client against the dev instance, from plain `#[test]` functions (no runtime of
//! the test's own on the calling thread): tables, paging as an iterator, writes, resources,
//! attachments, OAuth, and a clear error inside an async runtime.

use std::io::Read;

use serde_json::json;
use snow_client::blocking::Client;
use snow_client::query::field;
use snow_client::{Attachment, Error, ErrorKind, Record};
use snow_devinstance::{DevConfig, DevInstance};

const T: &str = "/api/now/table/incident";

/// A dev instance served by a runtime of its own, so the test thread stays outside any runtime.
struct Dev {
    dev: DevInstance,
    rt: tokio::runtime::Runtime,
}

impl Dev {
    fn start(records: usize) -> Dev {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let dev = rt
            .block_on(DevInstance::start(DevConfig {
                records,
                ..DevConfig::default()
            }))
            .unwrap();
        Dev { dev, rt }
    }

    fn client(&self) -> Client {
        Client::basic(self.dev.base_url(), "admin", "admin").unwrap()
    }
}

#[test]
fn tables_paging_and_writes() {
    let dev = Dev::start(45);
    let client = dev.client();
    let inc = client.table("incident");

    // Paging as an iterator: five pages of ten, lazily.
    let mut iter = inc.list().page_size(10).iter::<Record>();
    assert!(
        crate::common::log_for(&dev.dev, T).is_empty(),
        "nothing sent before next()"
    );
    let first = iter.next().unwrap().unwrap();
    assert_eq!(iter.expected(), Some(45));
    let rest: Vec<Record> = iter.collect::<Result<_, _>>().unwrap();
    assert_eq!(rest.len(), 44);
    assert_eq!(crate::common::log_for(&dev.dev, T).len(), 5);

    let top: Vec<Record> = inc
        .list()
        .query(field("active").eq(true))
        .fields(["number"])
        .limit(3)
        .all()
        .unwrap();
    assert_eq!(top.len(), 3);

    let id = first.sys_id().unwrap();
    let again = inc.get(id).fields(["number", "sys_id"]).send().unwrap();
    assert_eq!(again.sys_id(), Some(id));
    assert!(
        inc.get("00000000000000000000000000000000")
            .fetch_optional::<Record>()
            .unwrap()
            .is_none()
    );

    let created: Record = inc
        .create(&json!({"short_description": "blocking"}))
        .param("x_source", "blocking")
        .send()
        .unwrap();
    let new_id = created.sys_id().unwrap().to_owned();
    let updated: Record = inc
        .update(&new_id, &json!({"urgency": "1"}))
        .send()
        .unwrap();
    assert_eq!(updated.str("urgency"), Some("1"));
    let r = inc
        .update_where(
            field("sys_id").eq(new_id.as_str()),
            &json!({"urgency": "2"}),
        )
        .unwrap();
    assert_eq!(r.str("urgency"), Some("2"));
    inc.delete(&new_id).send().unwrap();
    let e = inc.get(&new_id).send().unwrap_err();
    assert_eq!(e.status(), Some(http::StatusCode::NOT_FOUND), "{e}");
    let post = crate::common::log_for(&dev.dev, T)
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    assert_eq!(
        crate::common::param(&post, "x_source").as_deref(),
        Some("blocking")
    );

    // Any API path.
    let resp = client
        .resource("/api/now/table/incident")
        .get()
        .query("sysparm_limit", "2")
        .send()
        .unwrap();
    assert_eq!(resp.records().unwrap().len(), 2);
}

#[test]
fn attachments_upload_read_and_delete() {
    let dev = Dev::start(3);
    let client = dev.client();
    let inc: Record = client.table("incident").list().first().unwrap();
    let id = inc.sys_id().unwrap();
    let attachments = client.attachments();
    let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let meta = attachments
        .upload("incident", id, "data.bin", content.clone())
        .send()
        .unwrap();
    assert_eq!(meta.size(), Some(200_000));

    let listed: Vec<Attachment> = attachments.for_record("incident", id).all().unwrap();
    assert_eq!(listed.len(), 1);

    let mut read = Vec::new();
    let mut download = attachments.download(&meta.sys_id).unwrap();
    assert_eq!(download.content_type(), Some("application/octet-stream"));
    let mut buf = [0u8; 7_000];
    loop {
        let n = download.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        read.extend_from_slice(&buf[..n]);
    }
    assert_eq!(read, content);
    let mut written = Vec::new();
    let n = attachments
        .download(&meta.sys_id)
        .unwrap()
        .write_to(&mut written)
        .unwrap();
    assert_eq!(n, 200_000);
    assert_eq!(written, content);

    attachments.delete(&meta.sys_id).unwrap();
    assert!(
        attachments
            .for_record("incident", id)
            .all::<Attachment>()
            .unwrap()
            .is_empty()
    );
}

#[cfg(feature = "oauth")]
#[test]
fn oauth_in_a_few_lines() {
    let dev = Dev::start(2);
    let seen = std::sync::Arc::new(std::sync::Mutex::new(0));
    let count = seen.clone();
    let client = Client::oauth_client(dev.dev.base_url(), "snow-dev", "snow-dev-secret")
        .token_updater(move |_| *count.lock().unwrap() += 1)
        .build()
        .unwrap();
    let token = client.oauth().generate_token("itil", "itil").unwrap();
    assert_eq!(*seen.lock().unwrap(), 1);
    let rows: Vec<Record> = client.table("incident").list().all().unwrap();
    assert_eq!(rows.len(), 2);

    let other = Client::oauth_client(dev.dev.base_url(), "snow-dev", "snow-dev-secret")
        .build()
        .unwrap();
    other.oauth().set_token(token).unwrap();
    assert!(other.oauth().token().is_some());
    let _: Record = other.table("incident").list().first().unwrap();
    assert_eq!(dev.dev.admin().counters().grants("password"), 1);
    other.oauth().revoke().unwrap();
    assert!(other.oauth().token().is_none());
}

#[test]
fn inside_an_async_runtime_every_call_is_a_clear_error() {
    let dev = Dev::start(2);
    let client = dev.client();
    let inc = client.table("incident");
    let (get, list, iter) = dev.rt.block_on(async {
        (
            inc.get("9d385017c611228701d22104cc95c371").send(),
            inc.list().all::<Record>(),
            inc.list().iter::<Record>().collect::<Vec<_>>(),
        )
    });
    for e in [get.unwrap_err(), list.unwrap_err()] {
        assert!(matches!(e, Error::BlockingInAsync), "{e:?}");
        assert_eq!(e.kind(), ErrorKind::Client);
        assert!(e.to_string().contains("async runtime"), "{e}");
    }
    assert_eq!(iter.len(), 1, "the iterator ends after its error");
    assert!(matches!(iter[0], Err(Error::BlockingInAsync)));
    assert!(dev.dev.admin().request_log().is_empty(), "nothing was sent");

    // The client still works outside, and dropping its last clone inside a runtime is fine.
    let _: Record = inc.list().first().unwrap();
    dev.rt.block_on(async move {
        drop(inc);
        drop(client);
    });
}

#[test]
fn many_threads_share_one_client() {
    let dev = Dev::start(20);
    let client = dev.client();
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            std::thread::spawn(move || {
                client
                    .table("incident")
                    .list()
                    .page_size(5)
                    .all::<Record>()
                    .map(|v| v.len())
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap().unwrap(), 20);
    }
}

#[test]
fn from_env_with_an_injected_source() {
    let dev = Dev::start(2);
    let url = dev.dev.base_url().to_owned();
    let vars = move |name: &str| match name {
        "SNOW_URL" => Some(url.clone()),
        "SNOW_USER" | "SNOW_PASSWORD" => Some("reader".to_owned()),
        _ => None,
    };
    let client = snow_client::blocking::ClientBuilder::from_env_with(vars)
        .unwrap()
        .build()
        .unwrap();
    let rows: Vec<Record> = client.table("incident").list().all().unwrap();
    assert_eq!(rows.len(), 2);
    let users: Vec<_> = crate::common::log_for(&dev.dev, T)
        .into_iter()
        .map(|r| r.user)
        .collect();
    assert_eq!(users, [Some("reader".to_owned())]);
}
