"""The counts-only log reader of a Debezium connector file: a slot, publication or replica
id of its own, the agent's engine, and the records the reconciler reads."""

from __future__ import annotations

import pytest

from streamhub.capture.counts import WindowCounts
from streamhub.debezium.counts_log import (
    SERVER_ID_OFFSET,
    CountsError,
    counting_config,
    counts_record,
)
from streamhub.reconcile.inputs import SourceWindow, source_from_avro

from ..capture.task_fakes import connector


def test_postgres_counts_on_a_slot_and_publication_of_their_own() -> None:
    config = connector(name="xm-his", capture_engine="debezium")
    counting = counting_config(config)
    assert counting.capture_engine == "streamhub" and counting.debezium is None
    assert counting.slot_name == counting.publication_name == "streamhub_counts_xm_his"
    assert counting.slot_name != config.slot_name  # never the agent's or Debezium's slot
    assert (counting.name, counting.institution_id) == (config.name, config.institution_id)


def test_mysql_counts_with_a_replica_id_of_their_own() -> None:
    config = connector(
        name="xm-lis",
        engine="mysql",
        capture_engine="debezium",
        mysql={"server_id": 4242},
        tables=["lis.result"],
    )
    mysql = counting_config(config).mysql
    assert mysql is not None and mysql.server_id == 4242 + SERVER_ID_OFFSET


def test_sources_without_a_log_reader_are_refused() -> None:
    config = connector(name="sq-lis", engine="sqlserver", capture_engine="debezium")
    with pytest.raises(CountsError, match="counts_sqlserver"):
        counting_config(config)


def test_a_minute_becomes_the_record_the_reconciler_reads() -> None:
    config = connector(name="xm-his", capture_engine="debezium")
    window = WindowCounts("his.public.patient", 1_772_440_200_000, 3, 2, 1, 0)
    record = counts_record(config, window, 1_772_440_270_000)
    source = source_from_avro(record)
    assert isinstance(source, SourceWindow)
    assert (source.table.database, source.table.table) == ("his", "public.patient")
    assert (source.changes, source.window_start_ms) == (6, 1_772_440_200_000)
