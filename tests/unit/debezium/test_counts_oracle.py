"""Oracle source counts, rendered: LogMiner's committed changes per table and UTC commit
minute, and a flashback row count at an SCN (no Oracle here: the text is what is checked)."""

from __future__ import annotations

import pytest

from streamhub.debezium.counts_oracle import (
    START_LOGMINER,
    OracleQueryError,
    flashback_count_sql,
    logminer_count_sql,
    owner_table,
)


def test_logminer_counts_committed_changes_per_table_and_utc_minute() -> None:
    sql = logminer_count_sql(["HIS.PATIENT", "his.visit"], "Asia/Shanghai")
    assert "FROM V$LOGMNR_CONTENTS c" in sql
    assert "(c.SEG_OWNER, c.TABLE_NAME) IN (('HIS', 'PATIENT'), ('HIS', 'VISIT'))" in sql
    # 1 insert, 3 update, 2 delete; a change continued over several rows counts once
    assert "c.OPERATION_CODE IN (1, 2, 3)" in sql and "c.CSF = 0" in sql
    assert "WHEN c.OPERATION_CODE = 3 THEN 1" in sql
    assert "FROM_TZ(CAST(c.COMMIT_TIMESTAMP AS TIMESTAMP),\n" in sql
    assert sql.count("'Asia/Shanghai'") == 2 and "SYS_EXTRACT_UTC" in sql
    assert ":start_scn" in sql and ":end_scn" in sql
    assert "COMMITTED_DATA_ONLY" in START_LOGMINER  # commit times only for committed data


def test_flashback_counts_the_rows_at_an_scn() -> None:
    assert flashback_count_sql("HIS.PATIENT") == (
        'SELECT COUNT(*) FROM "HIS"."PATIENT" AS OF SCN :scn'
    )


@pytest.mark.parametrize("name", ["PATIENT", "HIS.PAT'IENT", 'HIS."x"', "HIS.1X"])
def test_names_that_are_not_plain_oracle_names_are_refused(name: str) -> None:
    with pytest.raises(OracleQueryError):
        owner_table(name)


def test_a_zone_that_is_not_a_zone_name_is_refused() -> None:
    with pytest.raises(OracleQueryError):
        logminer_count_sql(["HIS.PATIENT"], "UTC'); DROP TABLE x; --")
