"""Reconciliation: what the source log holds against what was rejected and landed.

Per (institution, database, source table, commit minute) — see :mod:`.keys` for how the
stages' table names meet — the reconciler (:mod:`.reconciler`) folds in
``ops.source_counts``, ``ops.landed_counts`` and dead letters, and judges each window
after a grace period (MATCH, MISSING, EXCESS, later LATE); :mod:`.totals` sums per
institution and Shanghai day; :mod:`.state_check` checks a table's row count at a known
position against ClickHouse's live rows. All pure: time is injected, I/O belongs to the
Faust wiring (:mod:`.app`).

This package file imports nothing, so that importing one module (the results' shape,
the table keys) does not load the whole reconciler: import from the modules.
"""
