"""The capture message key: one row's changes share a key, in the canonical JSON form that
record ids and the reconciler's drill-down are computed from."""

from __future__ import annotations

import json

from streamhub.capture.envelope import message_key
from streamhub.capture.model import RowEvent
from streamhub.core.identity import canonical_key

from .task_fakes import INSTITUTION, TABLE, connector


def test_the_message_key_is_the_canonical_json_of_institution_table_and_row_key() -> None:
    event = RowEvent(TABLE, "d", {"id": 7, "name": "张三"}, None, "0/1", 1, None, 0)
    key = message_key(connector(), event)
    document = {"institution_id": INSTITUTION, "table": "his.public.patient", "key": {"id": 7}}
    assert key == canonical_key(document).encode()
    assert key == b'{"institution_id":"%s","key":{"id":7},"table":"his.public.patient"}' % (
        INSTITUTION.encode()
    )
    assert json.loads(key)["key"] == {"id": 7}  # the delete's before image names the row
