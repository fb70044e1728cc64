"""PostgreSQL engine of the capture agent: pgoutput over a logical replication slot."""
