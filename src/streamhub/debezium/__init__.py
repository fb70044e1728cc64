"""Debezium on Kafka Connect as a second capture engine (Oracle, SQL Server, and the rest)."""
