"""A standardize worker with a small real processor, run as a subprocess by the tests.

    python -m tests.integration.standardize.runner --source T --sink O --group G \
        [--batches-file F] [--fail-key K --fail-times N] [--attempts N] \
        [--batch-size N] [--transport hosted|agent]

The processor copies each input to ``--sink`` (same key and value) and appends each batch's
size to ``--batches-file``; with ``--fail-key`` it raises for the first ``--fail-times``
batches holding that key.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from streamhub.config import load_settings
from streamhub.core.retry import RetryPolicy
from streamhub.kafka.faust_worker import run_worker
from streamhub.standardize.app import TRANSPORTS, build_app
from streamhub.standardize.messages import OutMessage, RawMessage


class InjectedFailureError(RuntimeError):
    """Raised on purpose by the test processor."""


class CopyProcessor:
    def __init__(
        self, sink: str, batches_file: Path | None, fail_key: bytes | None, fail_times: int
    ) -> None:
        self.sink = sink
        self.batches_file = batches_file
        self.fail_key = fail_key
        self.fail_times = fail_times

    def process(self, batch: Sequence[RawMessage]) -> list[OutMessage]:
        failing = self.fail_key is not None and self.fail_times > 0
        if failing and any(m.key == self.fail_key for m in batch):
            self.fail_times -= 1
            raise InjectedFailureError(f"injected failure on {self.fail_key!r}")
        if self.batches_file is not None:
            with self.batches_file.open("a") as f:
                f.write(f"{len(batch)}\n")
        return [OutMessage(self.sink, m.key, m.value or b"") for m in batch]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", required=True)
    parser.add_argument("--sink", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--batches-file", type=Path)
    parser.add_argument("--fail-key")
    parser.add_argument("--fail-times", type=int, default=0)
    parser.add_argument("--attempts", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--transport", choices=TRANSPORTS, default="hosted")
    args = parser.parse_args()
    settings = load_settings(standardize_group=args.group)
    processor = CopyProcessor(
        args.sink,
        args.batches_file,
        args.fail_key.encode() if args.fail_key else None,
        args.fail_times,
    )
    app = build_app(
        settings,
        processor,
        source_topics=[args.source],
        batch_size=args.batch_size,
        within_s=0.1,
        retry=RetryPolicy(attempts=args.attempts, first_s=0.2, max_s=1.0),
        transport=args.transport,
    )
    run_worker(app, loglevel="warning")


if __name__ == "__main__":
    main()
