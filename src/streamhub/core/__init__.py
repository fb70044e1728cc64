"""Parts every stage shares, below the stages in the flow: identities, topic names, the
clock, retry with backoff and the dead-letter record. Nothing here imports a stage."""
