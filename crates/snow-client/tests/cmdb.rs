//! The CMDB Instance API against the dev instance: CIs with relations, writes, roles.

mod common;

use common::{client, start};
use serde_json::json;
use snow_client::Error;
use snow_client::cmdb::CiSummary;
use snow_client::query::field;

const RUNS_ON: &str = "60bc4e22c0a8010e01f074cbe6bd73c3";
const DEPENDS_ON: &str = "1a9cb166f1571100a92eb60da2bce5c5";

#[tokio::test]
async fn list_get_create_update_and_relations() {
    let dev = start(500).await;
    let c = client(&dev, "admin");
    let apps = c.cmdb("cmdb_ci_appl");
    let all: Vec<CiSummary> = apps.list().page_size(3).all().await.unwrap();
    assert_eq!(all.len(), 10);
    let named: Vec<CiSummary> = apps
        .list()
        .query(field("name").eq(all[0].name.as_str()))
        .all()
        .await
        .unwrap();
    assert_eq!(named, vec![all[0].clone()]);

    let ci = apps.get(&all[0].sys_id).await.unwrap();
    assert_eq!(ci.sys_id(), Some(all[0].sys_id.as_str()));
    assert_eq!(ci.attributes.str("sys_class_name"), Some("cmdb_ci_appl"));
    let runs_on = ci
        .outbound_relations
        .iter()
        .find(|r| r.kind.value() == Some(RUNS_ON))
        .expect("an application runs on a server");
    assert_eq!(runs_on.kind.display_value(), Some("Runs on::Runs"));
    let server = runs_on.target.value().unwrap().to_owned();
    // The server sees the relation from the other side.
    let host = c.cmdb("cmdb_ci_server").get(&server).await.unwrap();
    assert!(
        host.inbound_relations
            .iter()
            .any(|r| r.sys_id == runs_on.sys_id && r.target.value() == ci.sys_id())
    );

    let created = apps
        .create(&json!({"name": "billing-api", "version": "2.1"}))
        .outbound(&server, RUNS_ON)
        .inbound(ci.sys_id().unwrap(), DEPENDS_ON)
        .source("ServiceNow")
        .await
        .unwrap();
    let id = created.sys_id().unwrap().to_owned();
    assert_eq!(created.name(), Some("billing-api"));
    assert_eq!(
        created.attributes.str("discovery_source"),
        Some("ServiceNow")
    );
    assert_eq!(created.outbound_relations.len(), 1);
    assert_eq!(created.inbound_relations.len(), 1);

    let updated = apps
        .update(&id, &json!({"version": "2.2"}))
        .put()
        .await
        .unwrap();
    assert_eq!(updated.attributes.str("version"), Some("2.2"));
    assert_eq!(updated.outbound_relations, created.outbound_relations);

    let more = apps
        .add_relations(&id)
        .outbound(&all[1].sys_id, DEPENDS_ON)
        .await
        .unwrap();
    assert_eq!(more.outbound_relations.len(), 2);
    let gone = more.outbound_relations[0].sys_id.clone();
    let after = apps.delete_relation(&id, &gone).await.unwrap();
    assert_eq!(after.outbound_relations.len(), 1);
    assert!(after.outbound_relations.iter().all(|r| r.sys_id != gone));
    assert_eq!(
        apps.get(&id).await.unwrap().outbound_relations,
        after.outbound_relations
    );
}

#[tokio::test]
async fn missing_cis_and_rights_are_typed_errors() {
    let dev = start(100).await;
    let c = client(&dev, "admin");
    let e = c
        .cmdb("cmdb_ci_appl")
        .get("00000000000000000000000000000000")
        .await
        .unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(404), "{e}");
    for user in ["itil", "reader"] {
        let e = client(&dev, user)
            .cmdb("cmdb_ci_appl")
            .create(&json!({"name": "nope"}))
            .await
            .unwrap_err();
        match &e {
            Error::Api { status, detail, .. } => {
                assert_eq!(status.as_u16(), 403);
                assert!(
                    detail.as_deref().unwrap().contains("ACL Exception Insert"),
                    "{e}"
                );
            }
            other => panic!("{user}: {other:?}"),
        }
    }
    // Readers read.
    let list: Vec<CiSummary> = client(&dev, "reader")
        .cmdb("cmdb_ci_database")
        .list()
        .all()
        .await
        .unwrap();
    assert_eq!(list.len(), 3);
    let e = c
        .cmdb("incident")
        .list()
        .all::<CiSummary>()
        .await
        .unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(400), "{e}");
    let e = c
        .cmdb("cmdb_ci_appl")
        .create(&json!(["not", "an", "object"]))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e}");
}
