"""pysnow 0.7.17 against a fresh snow-devinstance, unchanged.

Usage: check_pysnow.py BASE_URL   (the instance must run with --access-token-ttl 2)
Every step asserts on the data it got back; any failure exits non-zero.
"""

import os
import sys
import tempfile
import time
import hashlib
from urllib.parse import urlparse

import requests
import pysnow

BASE = sys.argv[1].rstrip("/")
HOST = urlparse(BASE).netloc
ADMIN = ("admin", "admin")
STEPS = []


def step(name):
    def wrap(fn):
        STEPS.append((name, fn))
        return fn
    return wrap


def raw_get(path, **params):
    r = requests.get(BASE + path, params=params, auth=ADMIN, headers={"Accept": "application/json"})
    r.raise_for_status()
    return r


def client():
    return pysnow.Client(host=HOST, use_ssl=False, user=ADMIN[0], password=ADMIN[1])


state = {}


@step("get() with a QueryBuilder query, fields and limit")
def query_builder_get():
    incident = client().resource(api_path="/table/incident")
    qb = (
        pysnow.QueryBuilder()
        .field("active").equals("true")
        .AND().field("priority").less_than_or_equal(2)
        .AND().field("number").order_ascending()
    )
    records = incident.get(query=qb, fields=["sys_id", "number", "priority", "active"], limit=5).all()
    assert 1 <= len(records) <= 5, len(records)
    for r in records:
        assert set(r) == {"sys_id", "number", "priority", "active"}, r.keys()
        assert r["active"] == "true", r
        assert int(r["priority"]) <= 2, r
    numbers = [r["number"] for r in records]
    assert numbers == sorted(numbers), numbers
    # The same query straight over HTTP gives the same first rows.
    direct = raw_get("/api/now/table/incident", sysparm_query=str(qb), sysparm_limit=5,
                     sysparm_fields="sys_id").json()["result"]
    assert [r["sys_id"] for r in direct] == [r["sys_id"] for r in records]
    state["number"] = records[0]["number"]
    state["sys_id"] = records[0]["sys_id"]


@step("one() on a single match")
def one():
    incident = client().resource(api_path="/table/incident")
    rec = incident.get(query={"number": state["number"]}).one()
    assert rec["sys_id"] == state["sys_id"], rec
    assert rec["number"] == state["number"]
    assert rec["sys_id"] and len(rec["sys_id"]) == 32


@step("all() and first() on a streamed response")
def streamed():
    incident = client().resource(api_path="/table/incident")
    total = int(raw_get("/api/now/table/incident", sysparm_query="active=true", sysparm_limit=1)
                .headers["X-Total-Count"])
    streamed = list(incident.get(query={"active": "true"}, stream=True).all())
    assert len(streamed) == total, (len(streamed), total)
    assert all(r["active"] == "true" for r in streamed)
    first = incident.get(query="active=true^ORDERBYnumber", stream=True).first()
    assert first["number"] == min(r["number"] for r in streamed), first["number"]


@step("create")
def create():
    incident = client().resource(api_path="/table/incident")
    rec = incident.create(payload={"short_description": "pysnow peer check", "priority": "3"}).one()
    assert rec["short_description"] == "pysnow peer check", rec
    assert rec["priority"] == "3"
    assert rec["number"].startswith("INC")
    assert rec["sys_created_by"] == "admin"
    state["created"] = rec["sys_id"]
    fetched = raw_get("/api/now/table/incident/" + rec["sys_id"]).json()["result"]
    assert fetched["short_description"] == "pysnow peer check"


@step("update")
def update():
    incident = client().resource(api_path="/table/incident")
    rec = incident.update(query={"sys_id": state["created"]}, payload={"short_description": "updated by pysnow"}).one()
    assert rec["short_description"] == "updated by pysnow", rec
    assert rec["priority"] == "3", "update must merge"
    assert rec["sys_mod_count"] == "1", rec["sys_mod_count"]


@step("attachment upload and listing")
def attachments():
    incident = client().resource(api_path="/table/incident")
    content = b"attached by pysnow\n" * 10
    with tempfile.NamedTemporaryFile("wb", suffix=".txt", delete=False) as f:
        f.write(content)
        path = f.name
    try:
        meta = incident.attachments.upload(state["created"], path, name="peer.txt").one()
    finally:
        os.unlink(path)
    assert meta["file_name"] == "peer.txt", meta
    assert meta["size_bytes"] == str(len(content)), meta
    assert meta["table_sys_id"] == state["created"]
    assert meta["hash"] == hashlib.sha256(content).hexdigest()
    listed = client().resource(api_path="/table/incident").attachments.get(state["created"])
    assert [a["sys_id"] for a in listed] == [meta["sys_id"]], listed
    body = raw_get("/api/now/attachment/%s/file" % meta["sys_id"]).content
    assert body == content
    # pysnow's copy() leaks table_name/table_sys_id/file_name into later calls on the same
    # resource; the instance ignores them as unknown name-value pairs.
    leaked = incident.get(query={"sys_id": state["created"]}).one()
    assert leaked["sys_id"] == state["created"]


@step("delete")
def delete():
    incident = client().resource(api_path="/table/incident")
    result = incident.delete(query={"sys_id": state["created"]})
    assert result == {"status": "record deleted"}, result
    assert incident.get(query={"sys_id": state["created"]}).one_or_none() is None
    r = requests.get(BASE + "/api/now/table/incident/" + state["created"], auth=ADMIN)
    assert r.status_code == 404 and r.json()["error"]["message"] == "No Record found"


@step("Aggregate API through a generic resource")
def aggregate():
    stats = client().resource(api_path="/stats/incident")
    stats.parameters.add_custom({"sysparm_count": "true"})
    one = stats.get(query="active=true").one()
    total = int(raw_get("/api/now/table/incident", sysparm_query="active=true", sysparm_limit=1)
                .headers["X-Total-Count"])
    assert one == {"stats": {"count": str(total)}}, one
    grouped = client().resource(api_path="/stats/incident")
    grouped.parameters.add_custom({"sysparm_count": "true", "sysparm_group_by": "priority"})
    groups = grouped.get(query="active=true").all()
    assert sum(int(g["stats"]["count"]) for g in groups) == total, groups
    assert all(g["groupby_fields"][0]["field"] == "priority" for g in groups)


@step("Import Set API through a generic resource")
def import_set():
    staging = client().resource(api_path="/import/imp_user")
    res = staging.create(payload={"user_name": "peer.user", "first_name": "Peer", "last_name": "Check"}).one()
    assert res["status"] == "inserted" and res["table"] == "sys_user", res
    user = raw_get("/api/now/table/sys_user/" + res["sys_id"]).json()["result"]
    assert user["name"] == "Peer Check", user
    bad = staging.create(payload={"user_name": "peer.bad", "active": "perhaps"}).one()
    assert bad["status"] == "error" and "active" in bad["error_message"], bad


@step("Batch API through a generic resource")
def batch():
    import base64
    import json
    body = {"batch_request_id": "peer", "rest_requests": [
        {"id": "1", "method": "GET", "url": "/api/now/table/incident?sysparm_limit=2",
         "headers": [{"name": "Accept", "value": "application/json"}]},
        {"id": "2", "method": "POST", "url": "/api/now/table/incident",
         "headers": [{"name": "Content-Type", "value": "application/json"},
                     {"name": "Accept", "value": "application/json"}],
         "body": base64.b64encode(b'{"short_description":"peer batch"}').decode()},
    ]}
    # The batch answer has no `result` member, so the raw response is read.
    resp = client().resource(api_path="/v1/batch").request("POST", data=json.dumps(body))
    answer = resp._response.json()
    assert answer["batch_request_id"] == "peer" and answer["unserviced_requests"] == [], answer
    by_id = {r["id"]: r for r in answer["serviced_requests"]}
    listed = json.loads(base64.b64decode(by_id["1"]["body"]))["result"]
    assert len(listed) == 2 and by_id["1"]["status_code"] == 200, by_id["1"]
    created = json.loads(base64.b64decode(by_id["2"]["body"]))["result"]
    assert by_id["2"]["status_code"] == 201 and created["short_description"] == "peer batch"


@step("CMDB Instance API through a generic resource")
def cmdb():
    apps = client().resource(api_path="/cmdb/instance/cmdb_ci_appl")
    listed = apps.get(query={}, limit=3).all()
    assert len(listed) == 3 and set(listed[0]) == {"sys_id", "name"}, listed
    ci = apps.request("GET", path_append="/" + listed[0]["sys_id"]).one()
    assert ci["attributes"]["sys_id"] == listed[0]["sys_id"], ci
    assert len(ci["outbound_relations"]) == 2, ci["outbound_relations"]
    server = ci["outbound_relations"][0]["target"]["value"]
    created = apps.create(payload={
        "attributes": {"name": "peer-app"}, "source": "ServiceNow",
        "outbound_relations": [{"target": server, "type": ci["outbound_relations"][0]["type"]["value"]}],
    }).one()
    assert created["attributes"]["name"] == "peer-app", created
    assert created["outbound_relations"][0]["target"]["value"] == server


@step("OAuth password grant, then automatic refresh after expiry with token_updater")
def oauth():
    updates = []
    o = pysnow.OAuthClient(client_id="snow-dev", client_secret="snow-dev-secret", host=HOST,
                           use_ssl=False, token_updater=updates.append)
    token = o.generate_token("itil", "itil")
    assert token["token_type"] == "Bearer" and token["access_token"] and token["refresh_token"], token
    assert token["expires_in"] <= 2, token["expires_in"]
    o.set_token(token)
    incident = o.resource(api_path="/table/incident")
    rec = incident.get(query={"number": state["number"]}).one()
    assert rec["sys_id"] == state["sys_id"]
    time.sleep(3)  # the instance runs with --access-token-ttl 2
    rec = incident.get(query={"number": state["number"]}).one()
    assert rec["sys_id"] == state["sys_id"]
    assert len(updates) == 1, updates
    assert updates[0]["access_token"] != token["access_token"]
    old = requests.get(BASE + "/api/now/table/incident?sysparm_limit=1",
                       headers={"Authorization": "Bearer " + token["access_token"]})
    assert old.status_code == 401, old.status_code
    counters = raw_get("/__dev/counters").json()["result"]
    assert counters["token_grants"].get("password") == 1, counters
    assert counters["token_grants"].get("refresh_token") == 1, counters


def main():
    failed = 0
    for name, fn in STEPS:
        try:
            fn()
            print("ok   %s" % name)
        except Exception as e:  # noqa: BLE001 - report every step
            failed += 1
            print("FAIL %s: %s: %s" % (name, type(e).__name__, e))
            if os.environ.get("PEER_DEBUG"):
                import traceback
                traceback.print_exc()
    print("%d passed, %d failed" % (len(STEPS) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
