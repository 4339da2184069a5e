"""aiosnow 0.6.0 as a bench contender, used the way its documentation shows.

Usage: aiosnow_bench.py WORKLOAD --url URL [--requests N] [--ids FILE] [--in-flight N]

- w3: --requests GETs by sys_id, --in-flight at a time (an asyncio semaphore), each with the
  declared incident model's `get_one(Incident.sys_id == ...)` on one model (one aiohttp session,
  its connection pool), reading each record's number.

Prints one JSON line like bench-worker's: count, wall_ms (the workload only), peak_rss_kib
(`ru_maxrss`), check (records that are incidents).
"""

import argparse
import asyncio
import json
import resource
import time
from urllib.parse import urlparse

import aiosnow
from aiosnow.models.table.declared import IncidentModel as Incident


async def w3(a, ids):
    client = aiosnow.Client(
        urlparse(a.url).netloc, basic_auth=("admin", "admin"), use_ssl=False
    )
    limit = asyncio.Semaphore(a.in_flight)
    async with Incident(client, table_name="incident") as inc:

        async def one(sys_id):
            async with limit:
                response = await inc.get_one(Incident.sys_id == sys_id)
                return int(str(response["number"]).startswith("INC"))

        start = time.perf_counter()
        checks = await asyncio.gather(*(one(s) for s in ids))
        wall_ms = (time.perf_counter() - start) * 1000.0
    return len(checks), sum(checks), wall_ms


def main():
    p = argparse.ArgumentParser()
    p.add_argument("workload")
    p.add_argument("--url", required=True)
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--ids", required=True)
    p.add_argument("--in-flight", type=int, default=64)
    a = p.parse_args()
    with open(a.ids) as f:
        ids = [line.strip() for line in f if line.strip()]
    ids = (ids * (a.requests // max(len(ids), 1) + 1))[: a.requests]

    if a.workload != "w3":
        raise SystemExit("aiosnow_bench: no workload " + a.workload)
    count, check, wall_ms = asyncio.run(w3(a, ids))

    print(
        json.dumps(
            {
                "workload": a.workload,
                "contender": "aiosnow",
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
