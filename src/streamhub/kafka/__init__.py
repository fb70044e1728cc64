"""Thin wrappers over confluent-kafka shared by several stages."""
