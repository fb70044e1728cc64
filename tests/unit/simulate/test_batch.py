from datetime import datetime

from streamhub.simulate import dialect as dialects
from streamhub.simulate.batch import Delete, Insert, Update, identical_runs, plan
from streamhub.simulate.dialect import RowRenderer
from streamhub.simulate.records import Change

T = datetime(2026, 3, 2, 8, 0)


def _renderers():
    d = dialects.load("english_pg")
    return {("h01", e): RowRenderer(d, e) for e in ("patient", "charge")}


def test_inserts_first_deletes_last_and_one_group_per_column_set():
    changes = [
        Change("h01", "charge", "c", 1, T, {"charge_id": 1, "amount": 1}),
        Change("h01", "charge", "u", 1, T, {"settlement_id": 9}),
        Change("h01", "charge", "c", 2, T, {"charge_id": 2, "amount": 2}),
        Change("h01", "charge", "d", 2, T),
    ]
    steps = plan(changes, _renderers())
    assert [type(s) for s in steps] == [Insert, Update, Delete]
    assert steps[0].rows == [(1, 1), (2, 2)]
    assert steps[2].keys == [2]


def test_a_rows_updates_keep_their_order_across_column_sets():
    changes = [
        Change("h01", "patient", "u", 5, T, {"phone": "a"}),
        Change("h01", "patient", "u", 5, T, {"address": "b"}),
        Change("h01", "patient", "u", 5, T, {"phone": "c"}),
        Change("h01", "patient", "u", 6, T, {"phone": "d"}),
    ]
    steps = plan(changes, _renderers())
    sequence = [(s.columns, [k for _, k in s.rows]) for s in steps]
    # the third change must not join the first group: it would run before the address update
    assert sequence == [(("phone",), [5]), (("address",), [5]), (("phone",), [5, 6])]


def test_identical_consecutive_updates_become_one_statement():
    rows = [(("x",), 1), (("x",), 2), (("y",), 3), (("x",), 4)]
    assert identical_runs(rows) == [(("x",), [1, 2]), (("y",), [3]), (("x",), [4])]
