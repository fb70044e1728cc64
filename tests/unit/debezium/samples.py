"""Debezium change messages as Connect's JsonConverter (schemas enabled) writes them.

Built from Debezium's documented event structure (key: the key columns' struct; value: an
``Envelope`` struct of ``before``/``after`` row structs, ``source``, ``op``, ``ts_ms``,
``transaction``) and each connector's documented ``source`` fields.
"""

from __future__ import annotations

import json
from typing import Any

from .test_decode import decimal, schema

PATIENT_ROW = [
    schema("id", "int64", optional=False),
    schema("name", "string"),
    decimal("fee", 2, 10),
    schema("admitted", "int64", "io.debezium.time.MicroTimestamp"),
    schema("born", "int32", "io.debezium.time.Date"),
]

POSTGRES_SOURCE = {
    "version": "3.6.1.Final",
    "connector": "postgresql",
    "name": "dbz.xm-his",
    "ts_ms": 1_772_440_200_000,
    "snapshot": "false",
    "db": "his",
    "sequence": '["24023119","24023128"]',
    "schema": "public",
    "table": "patient",
    "txId": 555,
    "lsn": 24_023_128,
    "xmin": None,
}

MYSQL_SOURCE = {
    "version": "3.6.1.Final",
    "connector": "mysql",
    "name": "dbz.xm-lis",
    "ts_ms": 1_772_440_200_000,
    "snapshot": "false",
    "db": "lis",
    "table": "patient",
    "server_id": 1,
    "gtid": None,
    "file": "mysql-bin.000003",
    "pos": 154,
    "row": 0,
    "thread": 7,
}

ORACLE_SOURCE = {
    "version": "3.6.1.Final",
    "connector": "oracle",
    "name": "dbz.xm-emr",
    "ts_ms": 1_772_440_200_000,
    "snapshot": "false",
    "db": "ORCLPDB1",
    "schema": "EMR",
    "table": "PATIENT",
    "txId": "02000a0037030000",
    "scn": "2122185",
    "commit_scn": "2122188",
}

SQLSERVER_SOURCE = {
    "version": "3.6.1.Final",
    "connector": "sqlserver",
    "name": "dbz.xm-pacs",
    "ts_ms": 1_772_440_200_000,
    "snapshot": "false",
    "db": "pacs",
    "schema": "dbo",
    "table": "patient",
    "change_lsn": "00000027:00000758:0003",
    "commit_lsn": "00000027:00000758:0005",
    "event_serial_no": 1,
}


def source_schema(connector: str) -> dict[str, Any]:
    return {
        "type": "struct",
        "optional": False,
        "name": f"io.debezium.connector.{connector}.Source",
        "field": "source",
        "fields": [],  # the normalizer reads the source block's payload, not its schema
    }


def value_message(
    row_fields: list[dict[str, Any]],
    *,
    op: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    source: dict[str, Any],
    transaction: dict[str, Any] | None = None,
    name: str = "dbz.xm-his.public.patient",
) -> bytes:
    row = {"type": "struct", "optional": True, "name": f"{name}.Value", "fields": row_fields}
    envelope_schema = {
        "type": "struct",
        "optional": False,
        "name": f"{name}.Envelope",
        "version": 2,
        "fields": [
            {**row, "field": "before"},
            {**row, "field": "after"},
            source_schema(str(source["connector"])),
            {"type": "string", "optional": False, "field": "op"},
            {"type": "int64", "optional": True, "field": "ts_ms"},
        ],
    }
    payload = {
        "before": before,
        "after": after,
        "source": source,
        "op": op,
        "ts_ms": 1_772_440_200_500,
        "transaction": transaction,
    }
    return connect_json({"schema": envelope_schema, "payload": payload})


def key_message(fields: list[dict[str, Any]], values: dict[str, Any], name: str = "k") -> bytes:
    key_schema = {"type": "struct", "optional": False, "name": f"{name}.Key", "fields": fields}
    return connect_json({"schema": key_schema, "payload": values})


def connect_json(document: dict[str, Any]) -> bytes:
    """As Connect's JsonConverter writes it: compact, schema first, UTF-8."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


PATIENT_KEY = [schema("id", "int64", optional=False)]
ROW = {"id": 7, "name": "张三", "fee": "BM4=", "admitted": 1_772_440_200_123_456, "born": 20514}
