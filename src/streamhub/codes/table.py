"""Read a packaged catalogue CSV (UTF-8, header row, every field required) into typed rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Hashable
from importlib.resources import files
from typing import TypeVar

from streamhub.codes.errors import CatalogueError

T = TypeVar("T")
Row = dict[str, str]


def read_resource(name: str) -> str:
    """The text of ``streamhub/codes/data/<name>``."""
    resource = files("streamhub.codes") / "data" / name
    try:
        return resource.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise CatalogueError(
            f"catalogue {name}: file missing from the installed package "
            "(package-data must include codes/data/*.csv)"
        ) from exc
    except UnicodeDecodeError as exc:
        raise CatalogueError(f"catalogue {name}: not UTF-8 ({exc})") from exc


def read_table(
    source: str,
    text: str,
    columns: tuple[str, ...],
    build: Callable[[Row], T],
    key: Callable[[T], Hashable],
) -> tuple[T, ...]:
    """Every row of ``text`` built by ``build``, in file order, unique by ``key``.

    ``build`` raises ValueError (or ArithmeticError from Decimal) on a bad value; that and any
    structural fault become a CatalogueError naming ``source`` and the line.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header != list(columns):
        raise CatalogueError(f"{source} line 1: header is {header}, expected {list(columns)}")
    items: list[T] = []
    seen: dict[Hashable, int] = {}
    for fields in reader:
        line = reader.line_num
        try:
            item = build(_row(fields, columns))
        except (ValueError, ArithmeticError) as exc:
            raise CatalogueError(f"{source} line {line}: {exc}") from exc
        item_key = key(item)
        if item_key in seen:
            raise CatalogueError(
                f"{source} line {line}: {item_key!r} repeats line {seen[item_key]}"
            )
        seen[item_key] = line
        items.append(item)
    return tuple(items)


def _row(fields: list[str], columns: tuple[str, ...]) -> Row:
    if len(fields) != len(columns):
        raise ValueError(f"{len(fields)} fields, expected {len(columns)}")
    for column, value in zip(columns, fields, strict=True):
        if not value or value != value.strip():
            raise ValueError(f"{column} is empty or has surrounding blanks: {value!r}")
        # Sources and regional specs may be GBK: a catalogue value must survive that round trip.
        try:
            value.encode("gbk")
        except UnicodeEncodeError as exc:
            raise ValueError(f"{column} {value!r} cannot be encoded in GBK") from exc
    return dict(zip(columns, fields, strict=True))
