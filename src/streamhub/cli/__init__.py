"""The ``streamhub`` command."""
