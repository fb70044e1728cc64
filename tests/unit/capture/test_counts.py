from streamhub.capture.counts import MINUTE_MS, SourceCounts

T0 = 1_772_000_000_000 - 1_772_000_000_000 % MINUTE_MS


def test_counts_per_table_and_minute_close_once_the_log_moves_on():
    counts = SourceCounts(grace_ms=5_000)
    counts.add("db.t", "c", T0 + 1_000)
    counts.add("db.t", "u", T0 + 2_000)
    counts.add("db.u", "d", T0 + 3_000)
    counts.add("db.t", "c", T0 + MINUTE_MS + 1_000)
    assert counts.due() == []  # the log is not yet past the first minute plus grace
    counts.add("db.t", "c", T0 + MINUTE_MS + 6_000)
    due = counts.due()
    assert [(w.table, w.inserts, w.updates, w.deletes) for w in due] == [
        ("db.t", 1, 1, 0),
        ("db.u", 0, 0, 1),
    ]
    assert all(w.window_start_ms == T0 for w in due)


def test_an_idle_source_still_closes_its_windows():
    counts = SourceCounts()
    counts.add("db.t", "c", T0 + 1_000)
    assert counts.due(idle_at_ms=T0 + 30_000) == []
    assert [w.inserts for w in counts.due(idle_at_ms=T0 + MINUTE_MS + 10_000)] == [1]


def test_a_late_change_reemits_its_window_with_the_full_total():
    counts = SourceCounts()
    counts.add("db.t", "c", T0 + 1_000)
    counts.add("db.t", "c", T0 + 2 * MINUTE_MS)
    assert [w.inserts for w in counts.due()] == [1]
    counts.add("db.t", "c", T0 + 3_000)
    counts.add("db.t", "c", T0 + 3 * MINUTE_MS)
    assert next((w.window_start_ms, w.inserts) for w in counts.due()) == (T0, 2)


def test_open_windows_survive_a_restart_through_the_stored_state():
    counts = SourceCounts()
    counts.add("db.t", "c", T0 + 1_000)
    restarted = SourceCounts(counts.state())
    restarted.add("db.t", "c", T0 + 2_000)
    restarted.add("db.t", "r", T0 + 9 * MINUTE_MS)  # snapshot reads do not move the log
    assert restarted.due() == []
    restarted.add("db.t", "u", T0 + 2 * MINUTE_MS)
    assert [(w.inserts, w.updates) for w in restarted.due()] == [(2, 0)]


def test_windows_emitted_at_shutdown_keep_their_totals_across_a_restart():
    counts = SourceCounts()
    counts.add("db.t", "c", T0 + 1_000)
    assert [w.inserts for w in counts.due(everything=True)] == [1]
    restarted = SourceCounts(counts.state())
    restarted.add("db.t", "u", T0 + 2_000)  # a change of the provisional minute, after restart
    assert [(w.inserts, w.updates) for w in restarted.due(everything=True)] == [(1, 1)]
