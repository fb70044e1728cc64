"""Connectors of one MariaDB server share one binlog stream, each with its own GTID position."""

from __future__ import annotations

import resource
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamhub.capture.errors import PositionLostError
from streamhub.capture.model import RowEvent, TransactionEnd
from streamhub.capture.mysql.server_stream import STREAMS, ServerAddress
from streamhub.capture.mysql.translator import MID_TRANSACTION_ROWS
from streamhub.config import Settings

from .helpers import drain
from .test_mysql_reader import (
    INSERT_PATIENT,
    PATIENTS,
    Source,
    committed,
    ends_of,
    patient,
)


@pytest.fixture
def source(settings: Settings) -> Iterator[Source]:
    created = Source(settings)
    try:
        yield created
    finally:
        created.cleanup()


WARDS = PATIENTS.replace("GY_BRXX", "ZY_BRRY")
INSERT_WARD = INSERT_PATIENT.replace("GY_BRXX", "ZY_BRRY")


def keys(events: list[object]) -> list[str]:
    return [str((e.after or e.before or {})["BRID"]) for e in events if isinstance(e, RowEvent)]


def test_connectors_of_one_server_share_a_stream_and_one_resumes_alone_exactly(
    source: Source,
) -> None:
    source.execute(PATIENTS)
    source.execute(WARDS)
    config_a, config_b = source.config("GY_BRXX"), source.config("ZY_BRRY")
    a, b = source.log_reader(config_a), source.log_reader(config_b)
    a.start(None)
    b.start(None)
    conn = config_a.connection
    stream = STREAMS.stream_of(ServerAddress(conn.host, conn.port, conn.user, True))
    assert stream is not None
    assert {config_a.name, config_b.name} <= set(stream.connectors)  # one stream, both in it

    source.execute(INSERT_PATIENT, patient("P1", "甲", 1))
    source.execute(INSERT_WARD, patient("W1", "乙", 2))
    source.execute(INSERT_PATIENT, patient("P2", "丙", 3))
    source.execute(INSERT_WARD, patient("W2", "丁", 4))
    seen_a = drain(a, committed(2))
    assert keys(seen_a) == ["P1", "P2"]  # only its own table
    stored = ends_of(seen_a)[0].resume  # Kafka has P1, not P2
    a.close()  # A alone stops ...
    source.execute(INSERT_PATIENT, patient("P3", "戊", 5))  # ... and misses these
    source.execute(INSERT_WARD, patient("W3", "己", 6))

    seen_b = drain(b, committed(3))
    again = source.log_reader(config_a)
    assert again.start(stored) == stored  # ... joins behind the stream: it rewinds for A
    assert STREAMS.stream_of(stream.address) is stream  # still the one stream
    source.execute(INSERT_PATIENT, patient("P4", "庚", 7))
    source.execute(INSERT_WARD, patient("W4", "辛", 8))
    resumed = drain(again, lambda evs: "P4" in keys(evs))
    seen_b += drain(b, lambda evs: "W4" in keys(evs))

    assert keys(resumed) == ["P2", "P3", "P4"]  # from its own position: no gap, no repeat
    assert keys(seen_b) == ["W1", "W2", "W3", "W4"]  # the rewind repeats nothing to B
    for events in (resumed, seen_b):
        seqs = [e.position_seq for e in events if isinstance(e, RowEvent | TransactionEnd)]
        assert seqs == sorted(seqs)
    ends = [e.resume for e in seen_b if isinstance(e, TransactionEnd)]
    assert len(ends) == len(set(ends))


def test_a_connector_whose_position_is_gone_fails_alone(source: Source) -> None:
    source.execute(PATIENTS)
    source.execute(WARDS)
    healthy = source.log_reader(source.config("ZY_BRRY"))
    healthy.start(None)
    source.execute(INSERT_WARD, patient("W1", "乙", 1))
    assert keys(drain(healthy, committed(1))) == ["W1"]

    lost = source.log_reader(source.config("GY_BRXX"))
    with pytest.raises(PositionLostError):
        lost.start("0-1-999999999999")  # a position this server never had
    source.execute(INSERT_WARD, patient("W2", "丙", 2))
    assert keys(drain(healthy, lambda evs: "W2" in keys(evs))) == ["W2"]


def test_a_500k_row_transaction_streams_through_in_bounded_memory(source: Source) -> None:
    rows = 500_000
    source.execute(PATIENTS)
    reader = source.log_reader(source.config("GY_BRXX"))
    reader.start(None)
    _insert_in_one_transaction(source, rows)
    before = _rss_mb()
    count, last_seq, ends, peak = _drain_transaction(reader, before)
    assert count == rows  # every row, once, then the commit's TransactionEnd
    assert ends[-1].position_seq > last_seq and "+" not in ends[-1].resume
    assert len(ends) - 1 >= rows // MID_TRANSACTION_ROWS - 1  # resume points inside it
    # 500,000 RowEvents held at once take well over 500 MB; the buffer holds 8,192
    print(f"500k-row transaction: RSS {before:.0f} MB before, peak {peak:.0f} MB")
    assert peak - before < 150, f"RSS grew {peak - before:.0f} MB"


def test_a_restart_from_a_point_inside_a_large_transaction_resumes_exactly(
    source: Source,
) -> None:
    rows = 6 * MID_TRANSACTION_ROWS + 5_000
    source.execute(PATIENTS)
    config = source.config("GY_BRXX")
    reader = source.log_reader(config)
    reader.start(None)
    _insert_in_one_transaction(source, rows)
    _, _, ends, _ = _drain_transaction(reader, _rss_mb())
    points = [e.resume for e in ends[:-1]]
    assert len(points) >= 5

    middle = points[len(points) // 2]  # the agent stored this one, then was killed
    done = int(middle.rsplit("#", 1)[1])
    again = source.log_reader(config)
    assert again.start(middle) == middle
    seen: list[int] = []
    count, _, resumed, _ = _drain_transaction(again, _rss_mb(), seen)
    assert count == rows - done  # exactly the changes after the stored point
    assert seen[0] & 0xFFFFF == done
    assert resumed[-1].resume == ends[-1].resume  # and the commit's end, as the first read


def _insert_in_one_transaction(source: Source, rows: int) -> None:
    source.execute(
        "INSERT INTO GY_BRXX (BRID, XM, ZYCS, GHF, GHSJ, BZ, CSRQ, ZP) "
        "SELECT CONCAT('B', seq), 'x', seq, seq / 100, '2024-03-01 08:30:00', 'n', "
        f"'1980-01-01', NULL FROM seq_1_to_{rows}"
    )


def _drain_transaction(
    reader: object, before: float, seqs: list[int] | None = None
) -> tuple[int, int, list[TransactionEnd], float]:
    """Read to a commit's end: rows, the last row's position_seq, the ends, peak RSS."""
    peak, count, last_seq = before, 0, -1
    ends: list[TransactionEnd] = []
    while not ends or "+" in ends[-1].resume:
        for event in reader.read(2000, 1.0):  # type: ignore[attr-defined]
            if isinstance(event, RowEvent):
                assert event.position_seq > last_seq
                last_seq = event.position_seq
                count += 1
                if seqs is not None:
                    seqs.append(last_seq)
            elif isinstance(event, TransactionEnd):
                ends.append(event)
        peak = max(peak, _rss_mb())
    return count, last_seq, ends, peak


def _rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20
