"""A Confluent-compatible schema registry (REST subset) stored in a compacted Kafka topic.

No Confluent-compatible registry can be run here from the registries we reach
(see docs/decisions/schema-registry.md), so streamhub serves the subset its
producers, consumers and ecosystem tools use.
"""
