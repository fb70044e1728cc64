"""The standardizer's CPU cost per change, without Kafka: decode -> map -> checks -> pseudonymize
-> build + encode, through the real ``Standardizer.process``.

Raw envelopes are made as the capture agent makes them (capture/envelope.py's envelope,
schema and message key, values typed by the engines' type rules) from the simulator's
generators: one simulated hospital per vendor, both dialects (english_pg on PostgreSQL,
pinyin_gbk on MariaDB) and the third-vendor profile (tests/data/third_vendor), with a few
planted bad records. They are encoded once, up front, against the local stack's schema
registry (no Kafka). Each source tree is then measured in a child process of its own (its
``src`` first on sys.path), on the same envelopes, back to back:

- per entity and for the whole mix: ``process()`` CPU µs per change (time.process_time) and
  changes/s per core, each pass by a new ``Standardizer`` (a row it saw in the pass before
  would be a known row);
- per stage, on the mix: decode (Avro + envelope check), map (the row and its ``also``
  entities), checks, pseudonymize (protect + the row's record id and source key tokens),
  encode (the std records' Avro), and build = process() minus all of those (finding the
  profile, the record itself, quality events, counts, dead letters);
- the issue 17 target: map + checks + pseudonymize <= 33 µs per change (>= 30,000/s per core).

    .venv/bin/python bench/standardize_cpu.py [--changes 3000] [--repeat 3] \\
        [--baseline-src /tmp/h3-base/src]

``--baseline-src`` measures that tree too and prints the ratio, e.g. the tree before issue 17:
``git worktree add /tmp/h3-base f3933e1`` then ``--baseline-src /tmp/h3-base/src``. CPU time,
not wall time: on a shared machine the figures are indicative, the ratio is the finding.
Needs the local stack's schema registry (`streamhub stack up`).
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET_US = 1e6 / 30_000  # map + checks + pseudonymize, per change
BATCH = 500
KEY = b"bench-person-key-of-at-least-16-bytes"
STAGES = ("decode", "map", "checks", "pseudonymize", "encode", "build")


# --- the parent: envelopes, children, report ---------------------------------------------------


def make_envelopes(changes: int, directory: Path) -> Path:
    """Encode the simulated changes of every vendor; write connectors, profiles and the
    envelopes (pickled) under ``directory``; returns the envelopes' file."""
    sys.path.insert(0, str(ROOT))
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from tests.unit.standardize.simulated_envelopes import (
        VENDORS,
        captured_changes,
        raw_message,
        write_connectors,
    )

    from streamhub.config import load_settings
    from streamhub.serde.avro_serde import AvroSerde
    from streamhub.standardize.profile import load_profile

    settings = load_settings(project_dir=ROOT)
    serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
    profiles = directory / "profiles"
    profiles.mkdir()
    items: list[tuple[str, str, tuple[Any, ...]]] = []
    offset = 0
    for dialect, profile_path in VENDORS.items():
        shutil.copy(profile_path, profiles / profile_path.name)
        profile = load_profile(profile_path)
        captured = captured_changes(dialect, count=changes, bad_fraction=0.02, prefix="bench")
        write_connectors(directory / "connectors", captured)
        for item in captured:
            entity = profile.table(item.event.table.name).entity
            message = raw_message(serde, item, offset)
            offset += 1
            fields = [message.topic, message.partition, message.offset]
            fields += [_b64(message.key), _b64(message.value), message.timestamp_ms]
            items.append((profile.name, entity, fields))
    path = directory / "envelopes.json"
    path.write_text(json.dumps(items), encoding="utf-8")
    return path


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


def run_child(src: Path, envelopes: Path, repeat: int) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(src)]
    command += ["--envelopes", str(envelopes), "--repeat", str(repeat)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"measuring {src} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def report(name: str, result: dict[str, Any], base: dict[str, Any] | None) -> None:
    print(f"\n== {name}: {result['src']}")
    print(
        f"   {result['changes']:,} changes -> {result['records']:,} std records, "
        f"{result['quality']:,} quality events, {result['dead']:,} dead letters"
    )
    print(f"   {'process()':<14}{'µs/change':>11}{'changes/s':>11}" + ("  ratio" if base else ""))
    for group, us in result["process_us"].items():
        line = f"   {group:<14}{us:>11.1f}{1e6 / us:>11,.0f}"
        if base and group in base["process_us"]:
            line += f"  {base['process_us'][group] / us:>5.2f}x"
        print(line)
    stages = result["stages_us"]
    print("   stage (mix)      µs/change" + ("  before" if base else ""))
    for stage in STAGES:
        line = f"   {stage:<16}{stages[stage]:>10.1f}"
        if base:
            line += f"  {base['stages_us'][stage]:>6.1f}"
        print(line)
    work = stages["map"] + stages["checks"] + stages["pseudonymize"]
    verdict = "meets" if work <= TARGET_US else "misses"
    print(
        f"   map + checks + pseudonymize: {work:.1f} µs/change = {1e6 / work:,.0f}/s per core "
        f"({verdict} the target of <= {TARGET_US:.1f} µs, >= 30,000/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=3000, help="changes per vendor")
    parser.add_argument("--repeat", type=int, default=3, help="passes; the fastest counts")
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="source tree measured")
    parser.add_argument("--baseline-src", type=Path, help="a second tree, measured before it")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--envelopes", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        measure(args.child, args.envelopes, args.repeat)
        return
    with tempfile.TemporaryDirectory(prefix="standardize-cpu-") as tmp:
        envelopes = make_envelopes(args.changes, Path(tmp))
        base = None
        if args.baseline_src is not None:
            base = run_child(args.baseline_src.resolve(), envelopes, args.repeat)
            report("before", base, None)
        after = run_child(args.src.resolve(), envelopes, args.repeat)
        report("after" if base else "measured", after, base)
    print(f"\ncommand: {' '.join(sys.argv)}")


# --- the child: one source tree ---------------------------------------------------------------


def _cpu(passes: int, work: Any, before: Any = None) -> float:
    """The fastest of ``passes`` runs of ``work()``, in CPU seconds of this process
    (``before()``, untimed, ahead of each)."""
    import time

    best = float("inf")
    for _ in range(passes):
        if before is not None:
            before()
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best


def measure(src: Path, envelopes: Path, repeat: int) -> None:
    sys.path.insert(0, str(src))
    from confluent_kafka.schema_registry import SchemaRegistryClient

    from streamhub.config import load_settings
    from streamhub.serde.avro_serde import AvroSerde
    from streamhub.serde.errors import SerdeError
    from streamhub.serde.wire import MessageRef
    from streamhub.standardize import checks, mapper
    from streamhub.standardize.envelope_check import check_envelope
    from streamhub.standardize.errors import StandardizeError
    from streamhub.standardize.messages import RawMessage
    from streamhub.standardize.pipeline import Standardizer
    from streamhub.standardize.profile import load_profiles
    from streamhub.standardize.pseudonym import Pseudonymizer

    assert Path(checks.__file__).is_relative_to(src), f"{checks.__file__} is not under {src}"
    directory = envelopes.parent
    settings = load_settings(project_dir=src.parent)
    serde = AvroSerde(SchemaRegistryClient({"url": settings.registry_url}))
    pseudonymizer = Pseudonymizer(KEY)
    profiles = load_profiles(directory / "profiles")

    def new_standardizer() -> Any:
        return Standardizer(serde, directory / "connectors", profiles, pseudonymizer, src.parent)

    standardizer = new_standardizer()
    items = json.loads(envelopes.read_text(encoding="utf-8"))
    messages = [
        RawMessage(topic, partition, offset, _unb64(key), _unb64(value), ts)
        for _, _, (topic, partition, offset, key, value, ts) in items
    ]
    by_entity: dict[str, list[RawMessage]] = defaultdict(list)
    for (_, entity, _), message in zip(items, messages, strict=True):
        by_entity[entity].append(message)

    current = [standardizer]

    def fresh() -> None:
        # each pass starts from a new standardizer: what one remembers across batches (recent
        # rows' keys) must not turn the same envelopes of the next pass into known rows
        current[0] = new_standardizer()

    def run(batch_of: list[RawMessage]) -> list[Any]:
        out = []
        process = current[0].process
        for start in range(0, len(batch_of), BATCH):
            out.extend(process(batch_of[start : start + BATCH]))
        return out

    outputs = run(messages)  # warm: schemas fetched and parsed
    process_us = {"mix": _cpu(repeat, lambda: run(messages), fresh) / len(messages) * 1e6}
    for entity in sorted(by_entity):
        group = by_entity[entity]
        process_us[entity] = _cpu(repeat, lambda group=group: run(group), fresh) / len(group) * 1e6

    # the stages, each over the whole mix, on the inputs the stage before produced
    decoded = []

    def decode() -> None:
        decoded.clear()
        for m in messages:
            where = MessageRef(m.topic, m.partition, m.offset)
            ref = f"{m.topic}[{m.partition}]@{m.offset}"
            try:
                value = check_envelope(serde.decode(m.value, where).value, ref)
            except (SerdeError, StandardizeError):  # a poison envelope: dead-lettered
                continue
            decoded.append((m, value))

    mapped: list[tuple[str, Any, bool]] = []

    def map_rows() -> None:
        mapped.clear()
        for _, value in decoded:
            source, op = value["source"], value["op"]
            try:
                profile = standardizer._profile_for(source["connector"])
                row = value["before"] if op == "d" else value["after"]
                rows = [mapper.map_row(profile, source["table"], row)]
                further = mapper.map_further(profile, source["table"], row)
            except StandardizeError:  # a row the mapping refuses: dead-lettered
                continue
            rows += [found for _, found in further if found is not None]
            mapped.extend((source["institution_id"], r, op == "d") for r in rows)

    def check_rows() -> None:
        for _, row, deleted in mapped:
            if not deleted:
                checks.check(row.entity, row.values)

    def pseudonymize() -> None:
        identity = pseudonymizer.identity
        for m, value in decoded:
            source = value["source"]
            key = m.key.decode() if m.key else ""
            identity.record_id(source["institution_id"], source["database"], source["table"], key)
            identity.source_key(source["institution_id"], source["database"], source["table"], key)
        for institution, row, _ in mapped:
            pseudonymizer.protect(
                row.entity, row.values, row.business_time, institution_id=institution
            )

    std = [(m.topic, serde.decode(m.value)) for m in outputs if m.topic.startswith("std.")]
    writers = {topic: serde.writer_schema(record.schema_id) for topic, record in std}
    registered = {
        topic: next(w for w in serde._registered.values() if w.parsed is parsed)
        for topic, parsed in writers.items()
    }

    def encode() -> None:
        for topic, record in std:
            serde.encode(registered[topic], record.value)

    stages = {}
    for name, work in (
        ("decode", decode),
        ("map", map_rows),
        ("checks", check_rows),
        ("pseudonymize", pseudonymize),
        ("encode", encode),
    ):
        stages[name] = _cpu(repeat, work) / len(messages) * 1e6
    stages["build"] = process_us["mix"] - sum(stages.values())
    result = {
        "src": str(src),
        "changes": len(messages),
        "records": len(std),
        "quality": sum(m.topic == "ops.quality" for m in outputs),
        "dead": sum(m.topic == "dlq.standardize" for m in outputs),
        "process_us": process_us,
        "stages_us": stages,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
