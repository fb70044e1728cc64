"""Migration 0006 on a table holding rows landed before it: the partial identifiers go, the
county becomes its prefecture as the standardizer now writes it."""

from __future__ import annotations

from streamhub.land.clickhouse import connect, table_columns
from streamhub.land.migrations import load_migrations, migrate

REMOVED = {"id_number_masked", "name_masked", "birth_year", "phone_masked"}


def test_0006_drops_partial_identifiers_and_generalizes_landed_counties(
    dsn: str, database: str
) -> None:
    client = connect(dsn, database, create=True)
    try:
        before = [m for m in load_migrations() if m.version < 6]
        migrate(client, before)
        assert set(table_columns(client, database, "std_patient")) >= REMOVED
        client.command(
            "INSERT INTO std_patient (record_id, institution_id, source_system, source_database,"
            " source_table, source_key, operation, deleted, source_position, source_position_seq,"
            " commit_time, received_time, standardized_time, cancelled, quality_issues, profile,"
            " name_masked, id_number_masked, birth_year, phone_masked, region_code, region_name)"
            " VALUES ('r1', 'i', 'his', 'd', 't', 'k', 'c', false, 'p', 1, now64(3), now64(3),"
            " now64(3), false, [], 'p@1', '王**', '350203********002X', 1949, '135****0001',"
            " '350203', '厦门市思明区'), ('r2', 'i', 'his', 'd', 't', 'k', 'c', false, 'p', 1,"
            " now64(3), now64(3), now64(3), false, [], 'p@1', NULL, NULL, NULL, NULL, NULL, NULL)"
        )
        migrate(client)
        assert not REMOVED & set(table_columns(client, database, "std_patient"))
        rows = client.query(
            "SELECT record_id, region_code, region_name FROM std_patient ORDER BY record_id"
        ).result_rows
        assert [tuple(r) for r in rows] == [("r1", "350200", "厦门市"), ("r2", None, None)]
    finally:
        client.command(f"DROP DATABASE IF EXISTS `{database}`")
