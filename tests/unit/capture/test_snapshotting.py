from streamhub.capture.model import Chunk, ColumnInfo, RowEvent, TableInfo
from streamhub.capture.snapshotting import ChunkWindow, SnapshotPlan

T = TableInfo(
    "db",
    "public",
    "t",
    (ColumnInfo("id", "int8", "long", key=True), ColumnInfo("v", "text", "string")),
)


def _event(op, before, after):
    return RowEvent(T, op, before, after, "0/1", 1, "7", 0)


def test_changes_between_the_watermarks_win_over_the_chunk_copy():
    chunk = Chunk(T, [{"id": i, "v": "old"} for i in (1, 2, 3)], last_key=(3,))
    window = ChunkWindow.of("c1", chunk, limit=3)
    window.observe(_event("u", None, {"id": 1, "v": "before-low"}))  # before the low mark: kept
    window.seen_low = True
    window.observe(_event("u", None, {"id": 2, "v": "new"}))
    window.observe(_event("d", {"id": 3}, None))
    assert window.remaining() == [{"id": 1, "v": "old"}]
    assert window.full and window.superseded == 2


def test_the_plan_walks_tables_by_key_and_survives_a_restart():
    plan = SnapshotPlan()
    plan.request("db.public.t")
    tables = {"db.public.t": T}
    assert plan.next_table(tables) is T and plan.after("db.public.t") is None
    window = ChunkWindow.of("c1", Chunk(T, [{"id": 1}, {"id": 2}], last_key=(2,)), limit=2)
    plan.finished_chunk(window, emitted=2)
    restored = SnapshotPlan(plan.state())
    assert restored.after("db.public.t") == (2,) and restored.active
    last = ChunkWindow.of("c2", Chunk(T, [{"id": 3}], last_key=(3,)), limit=2)
    restored.finished_chunk(last, emitted=1)
    assert not restored.active and restored.next_table(tables) is None
    assert restored.state()["db.public.t"]["rows"] == 3
