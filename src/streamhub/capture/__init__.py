"""Log-based capture: each institution's database log (WAL / binlog) into Kafka.

Engine readers (``postgres/``, ``mysql/``) turn the log into :mod:`model` events;
the connector task turns those into Avro change envelopes, and advances the
source position only after Kafka has acknowledged everything before it.
"""
