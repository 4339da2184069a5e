//! Record links (pysnow's `get_record_link`) against the dev instance: the link of a record is
//! its REST URL, and fetching it gives the record.

use http::Request;
use snow_client::transport::Body;
use snow_client::{Error, Record};

#[tokio::test]
async fn a_record_link_fetches_the_record() {
    let dev = crate::common::start(3).await;
    let c = crate::common::client(&dev, "admin");
    let incidents = c.table("incident");
    let r: Record = incidents.list().first().await.unwrap();
    let id = r.sys_id().unwrap();

    let link = incidents.record_link(id).unwrap();
    assert_eq!(
        link,
        format!("{}/api/now/table/incident/{id}", dev.base_url())
    );
    let resp = c
        .transport()
        .send(Request::get(link.as_str()).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect_bytes().await.unwrap();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["result"]["sys_id"], id);

    assert_eq!(
        incidents.form_link(id).unwrap(),
        format!("{}/incident.do?sys_id={id}", dev.base_url())
    );
    // Hostile input is encoded or refused, never a panic.
    assert_eq!(
        incidents.record_link("a/b?c").unwrap(),
        format!("{}/api/now/table/incident/a%2Fb%3Fc", dev.base_url())
    );
    for bad in ["", ".", ".."] {
        assert!(matches!(
            incidents.record_link(bad),
            Err(Error::InvalidInput { .. })
        ));
    }
    assert!(incidents.form_link("").is_err());
}
