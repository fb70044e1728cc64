"""Many simulated institutions' capture agents in one process, without databases.

``streamhub simulate fleet`` writes, for N institutions in a province's mix, exactly what
capture agents would: change envelopes on ``cdc.raw.*``, heartbeats and per-minute source
counts, through the capture agent's own emitter, at the province's daily curve in
compressed business time, with a ledger as ground truth. Modules: ``mix`` (which
institutions), ``pacing`` (the day and the rate), ``tables`` (rows as a reader reads them),
``source`` (one institution), ``emit`` (one connector), ``faults``, ``ledger``,
``connectors`` (their files), ``run`` (the loop).
"""
