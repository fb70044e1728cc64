"""Raw change envelopes as the capture agent makes them, from the simulator's workload, with no
database in between: the agreement test and bench/standardize_cpu.py feed them to the
standardizer.

The simulator's generators decide the changes (inserts, updates, deletes, planted bad records),
its dialect renders the rows, the capture engines' type rules give each column its value kind,
and capture/envelope.py builds the envelope, its schema and its message key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from streamhub.capture.connector import ConnectorConfig
from streamhub.capture.envelope import envelope, envelope_schema, message_key, subject
from streamhub.capture.model import ColumnInfo, RowEvent, TableInfo, ValueKind
from streamhub.capture.mysql.types import kind_of
from streamhub.capture.postgres.types import kind_for_name
from streamhub.serde.avro_serde import AvroSerde
from streamhub.simulate import dialect as dialects
from streamhub.simulate.activity import load_activity
from streamhub.simulate.bad_records import BAD_KINDS
from streamhub.simulate.business_time import FLAT
from streamhub.simulate.calibration import rows_per_arrival
from streamhub.simulate.dialect import Dialect, RowRenderer
from streamhub.simulate.flows import InstitutionWorkload
from streamhub.simulate.institutions import plan_institutions
from streamhub.simulate.records import Change
from streamhub.standardize.messages import RawMessage

ROOT = Path(__file__).resolve().parents[3]
PROFILES = ROOT / "connectors" / "profiles"
THIRD_VENDOR = ROOT / "tests" / "data" / "third_vendor"
# dialect (a packaged name or a file) -> its mapping profile: both dialects and the third vendor
VENDORS: dict[str, Path] = {
    "english_pg": PROFILES / "english_pg.yaml",
    "pinyin_gbk": PROFILES / "pinyin_gbk.yaml",
    str(THIRD_VENDOR / "dialect.yaml"): THIRD_VENDOR / "profile.yaml",
}
START = datetime(2026, 3, 2, 9, 30)
SHANGHAI = ZoneInfo("Asia/Shanghai")
EPOCH_MS = 1_772_420_000_000
_TYPE_NAME = re.compile(r"[a-z ]+")


@dataclass(frozen=True)
class Captured:
    """One change as the agent hands it to the emitter."""

    entity: str
    config: ConnectorConfig
    event: RowEvent


def _kind(dialect: Dialect, sql_type: str) -> ValueKind:
    if dialect.engine == "postgres":
        return kind_for_name(sql_type)
    lowered = sql_type.lower()
    match = _TYPE_NAME.match(lowered)
    base = (match.group() if match else lowered).split()[0]
    return kind_of(base, unsigned="unsigned" in lowered)


def _captured_value(kind: ValueKind, value: object, encoding: str) -> object:
    """The Python value the engine reader gives for a stored value (capture/model.py)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        # raw text in a byte-transparent column, decoded with the connector's encoding
        # (UnicodeDecodeError: a planted undecodable value, which goes to dlq.capture)
        value = value.decode(encoding)
    if kind == "string":
        return value if isinstance(value, str) else str(value)
    if kind in ("int", "long"):
        return int(str(value))
    if kind == "decimal":
        return Decimal(str(value))
    if kind == "double":
        return float(str(value))
    if kind == "boolean":
        return bool(value)
    return value  # date, local timestamp: the reader's date/naive datetime


def _table(dialect: Dialect, entity: str, database: str) -> TableInfo:
    spec = dialect.tables[entity]
    columns = tuple(
        ColumnInfo(name, column.type, _kind(dialect, column.type), key=name == spec.primary_key)
        for name, column in spec.columns.items()
    )
    schema = "public" if dialect.engine == "postgres" else None
    return TableInfo(database, schema, spec.name, columns)


def _connector(dialect: Dialect, institution_id: str, system: str, name: str) -> ConnectorConfig:
    document: dict[str, Any] = {
        "name": name,
        "institution_id": institution_id,
        "system": system,
        "profile": dialect.name,
        "encoding": dialect.text_encoding,
    }
    if dialect.engine == "postgres":
        document |= {
            "engine": "postgresql",
            "connection": {
                "port": 35432,
                "database": f"{name}_db",
                "user": "x",
                "password_env": "UNUSED",
            },
            "tables": [f"public.{t.name}" for t in dialect.tables.values() if t.system == system],
        }
    else:
        document |= {
            "engine": "mariadb",
            "connection": {
                "port": 33306,
                "database": f"{name}_db",
                "user": "x",
                "password_env": "UNUSED",
            },
            "tables": [t.name for t in dialect.tables.values() if t.system == system],
            "mysql": {"server_id": 4000 + len(name)},
        }
    return ConnectorConfig.model_validate(document)


def captured_changes(
    dialect_name: str, *, count: int, seed: int = 7, bad_fraction: float = 0.0, prefix: str = "sx"
) -> list[Captured]:
    """About ``count`` changes of one simulated hospital of ``dialect_name`` (inserts first:
    its initial state; then the day's flow of inserts, updates and deletes), as captured."""
    dialect = dialects.load(dialect_name)
    (inst,) = plan_institutions(hospitals=1, clinics=0, dialects=[dialect_name], seed=seed)
    workload = InstitutionWorkload(
        inst,
        load_activity(),
        seed=seed,
        start=START,
        rows_per_second=5.0,
        rows_per_arrival=rows_per_arrival(inst.kind, inst.systems, dialect.raw_text),
        compression=600.0,
        curve=FLAT,
    )
    workload.configure(bad_fraction=bad_fraction, bad_kinds=BAD_KINDS, raw_text=dialect.raw_text)
    workload.seed_state(max(count // 40, 2), 1)
    changes: list[Change] = list(workload.take_seeded())
    while len(changes) < count:
        changes.extend(workload.step())
    tag = dialect.name.replace("_", "-")
    connectors = {
        system: _connector(dialect, inst.credit_code, system, f"{prefix}-{tag}-{system}")
        for system in inst.systems
    }
    tables = {
        entity: _table(dialect, entity, inst.database(prefix, spec.system))
        for entity, spec in dialect.tables.items()
        if spec.system in inst.systems
    }
    renderers = {entity: RowRenderer(dialect, entity) for entity in tables}
    rows: dict[tuple[str, int], dict[str, object]] = {}
    out: list[Captured] = []
    for seq, change in enumerate(changes[:count], start=1):
        if change.entity not in tables:
            continue
        table, renderer = tables[change.entity], renderers[change.entity]
        kinds = {c.name: c.kind for c in table.columns}
        try:
            rendered = renderer.render(
                change.values, insert_key=change.key if change.op == "c" else None
            )
            values = {
                column: _captured_value(kinds[column], value, dialect.text_encoding)
                for column, value in rendered.items()
                if column in kinds
            }
            key_value = _captured_value(
                kinds[renderer.key_column], renderer.key(change.key), dialect.text_encoding
            )
        except UnicodeDecodeError:
            continue  # a planted undecodable text: the agent dead-letters it (dlq.capture)
        values[renderer.key_column] = key_value
        state = rows.setdefault((change.entity, change.key), {})
        before: dict[str, object] | None = None
        if change.op == "d":
            state = rows.pop((change.entity, change.key), {renderer.key_column: key_value})
            # PostgreSQL's default replica identity logs the key only; MariaDB the whole row
            before = (
                {renderer.key_column: key_value} if dialect.engine == "postgres" else dict(state)
            )
        else:
            state.update(values)
        at = change.at.replace(tzinfo=SHANGHAI)
        event = RowEvent(
            table=table,
            op=change.op,
            before=before,
            after=None if change.op == "d" else dict(state),
            position=f"0/{seq:08X}" if dialect.engine == "postgres" else f"0-1-{seq}",
            position_seq=seq << 8,
            txid=None,
            commit_ts_ms=int(at.timestamp() * 1000),
        )
        config = connectors[dialect.tables[change.entity].system]
        out.append(Captured(change.entity, config, event))
    return out


def write_connectors(directory: Path, captured: list[Captured]) -> None:
    """The connector files the standardizer reads (by connector name)."""
    directory.mkdir(parents=True, exist_ok=True)
    for config in {c.config.name: c.config for c in captured}.values():
        document = config.model_dump(mode="json", by_alias=True, exclude_none=True)
        (directory / f"{config.name}.yaml").write_text(
            yaml.safe_dump(document, allow_unicode=True), encoding="utf-8"
        )


def raw_message(serde: AvroSerde, item: Captured, offset: int) -> RawMessage:
    """The raw topic message of one change, encoded as the emitter does."""
    table = item.event.table
    writer = serde.register(subject(item.config, table), envelope_schema(item.config, table))
    value = serde.encode(writer, envelope(item.config, item.event, EPOCH_MS + offset))
    topic = f"cdc.raw.{item.config.system}"
    return RawMessage(topic, 0, offset, message_key(item.config, item.event), value, 0)
