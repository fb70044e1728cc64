"""A change too large for Kafka goes to dlq.capture; the connector goes on with the next one.

The connector's ``max_message_bytes`` is set low (20 kB) so that a 60 kB text value is
enough: before, the producer refused it with MSG_SIZE_TOO_LARGE, the task died and the
agent restarted it at the same position, forever, and nothing reached dlq.capture.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator

import pytest
from confluent_kafka.admin import AdminClient

from streamhub.capture.positions import PositionStore
from streamhub.config import Settings
from streamhub.kafka.groups import topic_ends

from .helpers import wait_until
from .test_postgres_reader import INSTITUTION
from .test_postgres_reader import Source as PgSource
from .test_resnapshot import pg as pg
from .test_resnapshot import read_from, running

LIMIT = 20_000


@pytest.fixture
def own_settings(capture_settings: Settings) -> Iterator[Settings]:
    yield capture_settings
    admin = AdminClient({"bootstrap.servers": capture_settings.kafka_bootstrap})
    for future in admin.delete_topics([capture_settings.capture_positions_topic]).values():
        with contextlib.suppress(Exception):  # never created: nothing to clean
            future.result(30)


def test_an_oversized_row_is_dead_lettered_and_the_next_changes_still_flow(
    own_settings: Settings,
    pg: PgSource,
) -> None:
    settings = own_settings
    pg.sql("CREATE TABLE note (id bigint PRIMARY KEY, body text)")
    # a snapshot read that is too large, between two that are not
    big = os.urandom(30_000).hex()  # 60 kB of text that no compression shrinks
    pg.sql("INSERT INTO note VALUES (1, 'small one'), (2, %s), (3, 'small three')", (big,))
    config = pg.config(["public.note"], max_message_bytes=LIMIT)
    start = topic_ends(settings, [config.topic, "dlq.capture", "ops.source_counts"])
    with running(settings, config):
        # and a logged insert that is too large, between two that are not
        pg.sql("INSERT INTO note VALUES (4, 'small four')")
        pg.sql("INSERT INTO note VALUES (5, %s)", ("x" + big,))
        pg.sql("INSERT INTO note VALUES (6, 'small six')")

        def raw_ids() -> set[int]:
            return {
                r["after"]["id"]
                for topic, r in read_from(settings, start)
                if topic == config.topic and r["source"]["connector"] == config.name
            }

        assert wait_until(lambda: raw_ids() >= {1, 3, 4, 6}, 60, 1.0), raw_ids()
        # the position moves past the refused change: no restart at the same place
        stored = PositionStore(settings)
        first = stored.load(config.name)
        assert wait_until(lambda: stored.load(config.name) != first, 30, 0.5)
        time.sleep(1.0)
    records = read_from(settings, start)
    raw = [r for t, r in records if t == config.topic and r["source"]["connector"] == config.name]
    assert sorted(r["after"]["id"] for r in raw) == [1, 3, 4, 6]  # no retry loop
    letters = [
        r for t, r in records
        if t == "dlq.capture" and r["institution_id"] == INSTITUTION
        and r["table"] == f"{pg.database}.public.note"
    ]  # fmt: skip
    letters.sort(key=lambda r: r["commit_ts_ms"])  # dlq.capture partitions by row key
    assert len(letters) == 2, [r["reason"] for r in letters]
    for letter, key in zip(letters, ('{"id":2}', '{"id":5}'), strict=True):
        assert letter["stage"] == "capture" and letter["error_type"] == "MessageTooLarge"
        reason = letter["reason"]
        assert f"{pg.database}.public.note" in reason and key in reason
        assert f"max_message_bytes {LIMIT}" in reason and "original_value omitted" in reason
        assert big[:32] not in reason  # no row value in the reason
        assert letter["original_value"] is None and key.encode() in letter["original_key"]
        assert letter["system"] == "his" and letter["commit_ts_ms"]
    assert letters[0]["reason"].startswith("change too large for Kafka: r of")
    assert letters[1]["reason"].startswith("change too large for Kafka: c of")
    # the reconciler versions the change from original_key and position_seq (in log order)
    assert all(isinstance(letter["position_seq"], int) for letter in letters)
    seqs = {r["after"]["id"]: r["source"]["position_seq"] for r in raw}
    assert seqs[4] < letters[1]["position_seq"] < seqs[6]

    # the source counts still hold both: the reconciler finds them rejected, not missing
    latest: dict[tuple[str, int], tuple[int, int, int]] = {}
    for topic, r in records:
        if (
            topic == "ops.source_counts"
            and r["connector"] == config.name
            and r["row_count"] is None
        ):
            window = (r["table"], r["window_start_ms"])
            if r["emitted_ts_ms"] >= latest.get(window, (0, 0, 0))[0]:
                latest[window] = (r["emitted_ts_ms"], r["snapshot_reads"], r["inserts"])
    assert sum(reads for _, reads, _ in latest.values()) == 3
    assert sum(inserts for _, _, inserts in latest.values()) == 3
