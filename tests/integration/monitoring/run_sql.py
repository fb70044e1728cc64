"""Run SQL statements through clickhouse-connect in a process of its own (chDB opens one
engine per process, and the test process may hold another). Reads a JSON list of SQL on
stdin; prints one JSON line per statement: its row count or the error."""

from __future__ import annotations

import json
import sys

from clickhouse_connect.driver.exceptions import ClickHouseError

from streamhub.land.clickhouse import connect


def main(dsn: str, database: str) -> None:
    client = connect(dsn, database)
    try:
        for statement in json.load(sys.stdin):
            try:
                rows = client.query(statement).result_rows
                print(json.dumps({"rows": len(rows), "error": None}), flush=True)
            except ClickHouseError as exc:
                print(json.dumps({"rows": 0, "error": str(exc)[:2000]}), flush=True)
    finally:
        client.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
