"""Link health: one status per hop of every institution's link, from source to center.

Gathering (:mod:`.gather`) reads Kafka only — heartbeats, consumer-group offsets, dead
letters, source and landed counts — into plain inputs (:mod:`.model`); evaluation
(:mod:`.evaluate`) is pure and turns them, with :class:`~.thresholds.Thresholds`, into
healthy/degraded/down per hop with operator-readable reasons. ``streamhub health`` prints
it; ``streamhub health --serve`` exports it to Prometheus (:mod:`.exporter`).
"""
