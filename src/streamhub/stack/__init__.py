"""The local stack: real Kafka (KRaft), PostgreSQL, MariaDB and the schema registry as processes.

Each service keeps its data, log and pid file under ``<data_dir>/<service>/``
and binds 127.0.0.1 only. ``up`` and ``down`` are idempotent.
"""
