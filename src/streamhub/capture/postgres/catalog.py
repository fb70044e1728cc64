"""The PostgreSQL catalog as capture reads it: a table's key and replica identity, its columns."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg2.extensions import cursor as Cursor


@dataclass(frozen=True)
class CatalogTable:
    oid: int
    replica_identity: str  # relreplident: d, n, f, i
    primary_key: tuple[str, ...]  # in index order


def find_table(cur: Cursor, schema: str, name: str) -> CatalogTable | None:
    cur.execute(
        """
        SELECT c.oid, c.relreplident,
               ARRAY(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY k(num, ord)
                     JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.num
                     ORDER BY k.ord)
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
        WHERE n.nspname = %s AND c.relname = %s AND c.relkind = 'r'
        """,
        (schema, name),
    )
    row = cur.fetchone()
    if row is None:
        return None
    return CatalogTable(int(row[0]), str(row[1]), tuple(row[2] or ()))


def column_details(cur: Cursor, oid: int) -> dict[str, tuple[int, str, bool]]:
    """Current columns of a table: name -> (type oid, format_type, not null)."""
    cur.execute(
        """
        SELECT attname::text, atttypid, format_type(atttypid, atttypmod), attnotnull
        FROM pg_attribute
        WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
        ORDER BY attnum
        """,
        (oid,),
    )
    return {str(r[0]): (int(r[1]), str(r[2]), bool(r[3])) for r in cur.fetchall()}


def format_types(cur: Cursor, types: list[tuple[int, int]]) -> list[str]:
    """``format_type`` of (type oid, type modifier) pairs, as the catalog spells them."""
    if not types:
        return []
    cur.execute(
        "SELECT format_type(t, m) FROM unnest(%s::oid[], %s::int4[]) WITH ORDINALITY u(t, m, i) "
        "ORDER BY i",
        ([t for t, _ in types], [m for _, m in types]),
    )
    return [str(r[0]) for r in cur.fetchall()]
