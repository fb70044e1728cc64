"""Re-snapshot requests and answers as documents on the signal topic, and what is refused
before sending."""

import json

import pytest

from streamhub.capture.errors import (
    SnapshotRejectedError,
    SnapshotRequestError,
    SnapshotTimeoutError,
)
from streamhub.capture.signals import (
    MAX_KEYS,
    ReRead,
    SnapshotDone,
    SnapshotRequest,
    check_keys,
    completion_document,
    parse_completion,
)


def test_a_keyed_request_round_trips_and_a_whole_table_one_has_no_keys():
    keyed = SnapshotRequest("pg-h01", "patient", "r1", [{"id": 5}])
    document = json.loads(json.dumps(keyed.document()))
    assert document["action"] == "snapshot" and document["keys"] == [{"id": 5}]
    assert SnapshotRequest.parse(document) == keyed
    whole = SnapshotRequest.parse(SnapshotRequest("pg-h01", "patient", "r2").document())
    assert whole.keys is None
    legacy = {"connector": "pg-h01", "action": "snapshot", "table": "patient", "ts": 1.0}
    assert SnapshotRequest.parse(legacy) == SnapshotRequest("pg-h01", "patient", "", None)


def test_an_answer_round_trips_with_its_error():
    done = SnapshotDone("r1", "pg-h01", "db.public.t", [ReRead({"id": 5}, 77)], [{"id": 6}], 1)
    wire = json.loads(json.dumps(completion_document(done)))
    assert wire["action"] == "snapshot_done"
    assert parse_completion(wire) == (done, None)
    refused = json.loads(json.dumps(completion_document(done, "key {'ID': 5} does not match")))
    assert parse_completion(refused)[1] == "key {'ID': 5} does not match"


@pytest.mark.parametrize(
    ("keys", "says"),
    [
        ([], "non-empty list"),
        ([{}], "is not a primary-key object"),
        ([5], "is not a primary-key object"),
        ([{"id": object()}], "must be JSON values"),
        ([{"id": i} for i in range(MAX_KEYS + 1)], f"at most {MAX_KEYS} per request"),
    ],
)
def test_requests_no_agent_could_use_are_not_sent(keys, says):
    with pytest.raises(SnapshotRequestError, match=says):
        check_keys("pg-h01", "patient", keys)
    check_keys("pg-h01", "patient", None)  # the whole table


def test_errors_name_the_connector_and_what_to_check():
    timeout = str(SnapshotTimeoutError("pg-h01", "r1", 30, "_capture_signals"))
    assert "pg-h01" in timeout and "r1" in timeout and "streamhub capture" in timeout
    refused = SnapshotRejectedError("pg-h01", "r1", "no such table")
    assert refused.reason == "no such table" and "pg-h01" in str(refused)
