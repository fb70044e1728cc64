"""The real standardizer in its Faust app over one test topic, run as a subprocess.

    python -m tests.integration.standardize.poison_runner --source T --group G --connectors D

Few retries, so that a batch that keeps failing makes the worker exit within seconds.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from confluent_kafka.schema_registry import SchemaRegistryClient

from streamhub.config import load_settings
from streamhub.core.retry import RetryPolicy
from streamhub.kafka.faust_worker import run_worker
from streamhub.serde.avro_serde import AvroSerde
from streamhub.standardize.app import build_app
from streamhub.standardize.pipeline import Standardizer
from streamhub.standardize.profile import load_profiles
from streamhub.standardize.pseudonym import Pseudonymizer

KEY = b"poison-test-key-of-at-least-16-bytes"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--connectors", type=Path, required=True)
    args = parser.parse_args()
    settings = load_settings(standardize_group=args.group)
    processor = Standardizer(
        AvroSerde(SchemaRegistryClient({"url": settings.registry_url})),
        args.connectors,
        load_profiles(settings.profiles_path),
        Pseudonymizer(KEY),
        settings.project_dir,
    )
    app = build_app(
        settings,
        processor,
        source_topics=[args.source],
        within_s=0.1,
        retry=RetryPolicy(attempts=3, first_s=0.2, max_s=0.5),
    )
    run_worker(app, loglevel="warning")


if __name__ == "__main__":
    main()
