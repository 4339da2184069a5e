"""pysnow 0.7.17 as a bench contender, used the way its documentation shows.

Usage: pysnow_bench.py WORKLOAD --url URL [--records N] [--page-size N] [--requests N] [--ids FILE]

- w1: stream --records incidents ordered by sys_id, a page of --page-size at a time
  (`resource.get(query=..., limit=..., offset=...)`: pysnow 0.7 asks for one page per call,
  so the loop pages by offset; each page is read with `all()`), reading each record's number.
- w2: --requests sequential GETs by sys_id (`resource.get(query={"sys_id": ...}).one()`),
  one keep-alive session.

Prints one JSON line like bench-worker's: count, wall_ms (the workload only), peak_rss_kib
(`ru_maxrss`), check (records that are incidents).
"""

import argparse
import json
import resource
import time
from urllib.parse import urlparse

import pysnow


def main():
    p = argparse.ArgumentParser()
    p.add_argument("workload")
    p.add_argument("--url", required=True)
    p.add_argument("--records", type=int, default=200000)
    p.add_argument("--page-size", type=int, default=10000)
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--ids")
    a = p.parse_args()

    client = pysnow.Client(
        host=urlparse(a.url).netloc, use_ssl=False, user="admin", password="admin"
    )
    incident = client.resource(api_path="/table/incident")
    ids = []
    if a.ids:
        with open(a.ids) as f:
            ids = [line.strip() for line in f if line.strip()]
        ids = (ids * (a.requests // max(len(ids), 1) + 1))[: a.requests]

    count = check = 0
    start = time.perf_counter()
    if a.workload == "w1":
        offset = 0
        while count < a.records:
            limit = min(a.page_size, a.records - count)
            page = incident.get(query="ORDERBYsys_id", limit=limit, offset=offset).all()
            n = 0
            for record in page:
                n += 1
                check += record["number"].startswith("INC")
            count += n
            offset += n
            if n < limit:
                break
    elif a.workload == "w2":
        for sys_id in ids:
            record = incident.get(query={"sys_id": sys_id}).one()
            check += record["number"].startswith("INC")
            count += 1
    else:
        raise SystemExit("pysnow_bench: no workload " + a.workload)
    wall_ms = (time.perf_counter() - start) * 1000.0

    print(
        json.dumps(
            {
                "workload": a.workload,
                "contender": "pysnow",
                "count": count,
                "wall_ms": wall_ms,
                "first_ms": None,
                "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "check": check,
            }
        )
    )


if __name__ == "__main__":
    main()
