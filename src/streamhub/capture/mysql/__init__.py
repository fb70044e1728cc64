"""MySQL/MariaDB engine of the capture agent: binlog reader, snapshot reader, pre-flight checks."""
