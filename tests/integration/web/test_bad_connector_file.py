"""One bad connector file costs its own institution's name, not the dashboard."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from streamhub.web.institutions import Directory
from tests.integration.web import data
from tests.integration.web.conftest import AppFactory, sign_in
from tests.unit.capture.test_connector_errors import bad_check_character, connector_yaml


def test_the_summary_answers_with_the_other_institutions_names(
    make_client: AppFactory,
    web_settings: object,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    directory = tmp_path / "connectors"
    directory.mkdir()
    (directory / "a.yaml").write_text(connector_yaml("a", data.SIMING_A), encoding="utf-8")
    (directory / "b.yaml").write_text(
        connector_yaml("b", bad_check_character(data.HULI_B)), encoding="utf-8"
    )
    settings = web_settings.model_copy(update={"connectors_dir": directory})  # type: ignore[attr-defined]
    official = sign_in(make_client(directory=Directory.from_settings(settings)), "wang")
    with caplog.at_level(logging.ERROR, logger="streamhub.web.institutions"):
        answer = official.get("/api/dashboard/summary")
    assert answer.status_code == 200, answer.text
    names = {e["institution_id"]: e["name"] for e in answer.json()["by_institution"]}
    assert names[data.SIMING_A] == "医院a"
    skipped = [r for r in caplog.records if r.getMessage() == "connector file skipped: invalid"]
    assert skipped and "b.yaml" in skipped[0].error  # type: ignore[attr-defined]
