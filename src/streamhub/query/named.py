"""Named queries: the only SQL that reaches ClickHouse through :mod:`streamhub.query`.

A caller names a query of a :class:`Catalog` and gives its parameters; the catalog checks
each one against its declaration (name, ClickHouse type, allowed values) and the SQL binds
them server-side as ``{name:Type}``. Nothing a caller sends becomes SQL text, so the lander's
endpoint can serve other processes without serving SQL (DESIGN.md: "ClickHouse reached by
other processes through named queries only, never free SQL").
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from streamhub.query.errors import QueryParameterError, UnknownQueryError

MAX_STRING_CHARS = 256
MAX_ARRAY_ITEMS = 2_000  # e.g. the institutions whose name matches a console search
_INT_RANGES = {"UInt8": (0, 2**8 - 1), "UInt32": (0, 2**32 - 1), "Int64": (-(2**63), 2**63 - 1)}
TYPES = frozenset({"String", "Array(String)", "Date", "Bool", *_INT_RANGES})
_NAME = re.compile(r"^[a-z][a-z0-9_.]*$")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*):([A-Za-z0-9]+(?:\(String\))?)\}")
# Never in a registered query: a statement that writes files or opens connections.
_FORBIDDEN = re.compile(
    r";|\bINTO\s+OUTFILE\b|\bINSERT\b|(?<!\.)\bSETTINGS\b|\b(file|url|s3|hdfs|remote|remoteSecure|"
    r"mysql|postgresql|jdbc|odbc|executable|cluster|input|python)\s*\(",
    re.IGNORECASE,
)
_REQUIRED = object()


@dataclass(frozen=True)
class Param:
    """A declared parameter: its ClickHouse type, a default (optional) and allowed values."""

    type: str
    default: Any = _REQUIRED
    choices: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"parameter type {self.type} is not one of {sorted(TYPES)}")

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    def coerce(self, query: str, name: str, value: Any) -> Any:
        """``value`` as the Python value ClickHouse binds for this type, or a refusal that
        names the query, the parameter and the type (never the value: it may be personal)."""

        def refuse(why: str) -> QueryParameterError:
            return QueryParameterError(f"query {query}: parameter {name} must be {why}")

        if self.type == "String":
            if not isinstance(value, str) or len(value) > MAX_STRING_CHARS:
                raise refuse(f"a string of at most {MAX_STRING_CHARS} characters")
            if self.choices and value not in self.choices:
                raise refuse(f"one of {', '.join(self.choices)}")
            return value
        if self.type == "Array(String)":
            if (
                not isinstance(value, list | tuple)
                or len(value) > MAX_ARRAY_ITEMS
                or not all(isinstance(v, str) and len(v) <= MAX_STRING_CHARS for v in value)
            ):
                raise refuse(
                    f"a list of at most {MAX_ARRAY_ITEMS} strings of at most "
                    f"{MAX_STRING_CHARS} characters"
                )
            return list(value)
        if self.type == "Date":
            if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
                return value
            try:
                if isinstance(value, str) and len(value) == len("YYYY-MM-DD"):
                    return dt.date.fromisoformat(value)
            except ValueError:
                pass
            raise refuse("a date (YYYY-MM-DD)")
        if self.type == "Bool":
            if not isinstance(value, bool):
                raise refuse("true or false")
            return value
        low, high = _INT_RANGES[self.type]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise refuse(f"an integer from {low} to {high} ({self.type})")
        return value


@dataclass(frozen=True)
class NamedQuery:
    """One registered SELECT; every ``{name:Type}`` in it is a declared parameter."""

    name: str
    sql: str
    params: Mapping[str, Param] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"query name {self.name!r}: lower case, digits, '_' and '.'")
        if _FORBIDDEN.search(self.sql):
            raise ValueError(f"query {self.name}: only plain SELECTs on tables may be registered")
        used = {m.group(1): m.group(2) for m in _PLACEHOLDER.finditer(self.sql)}
        declared = {name: param.type for name, param in self.params.items()}
        if used != declared:
            raise ValueError(f"query {self.name}: placeholders {used} != declared {declared}")

    def bind(self, given: Mapping[str, Any] | None) -> dict[str, Any]:
        """The parameters to bind: ``given`` checked, defaults filled in."""
        given = dict(given or {})
        unknown = sorted(set(given) - set(self.params))
        if unknown:
            declared = ", ".join(sorted(self.params)) or "none"
            raise QueryParameterError(
                f"query {self.name} has no parameter {', '.join(unknown)} (declared: {declared})"
            )
        bound = {}
        for name, param in self.params.items():
            if name in given:
                bound[name] = param.coerce(self.name, name, given[name])
            elif param.required:
                raise QueryParameterError(f"query {self.name}: parameter {name} is required")
            else:
                bound[name] = param.default
        return bound


class Catalog:
    """The named queries one endpoint or reader answers; built once, never changed."""

    def __init__(self, queries: Iterable[NamedQuery]) -> None:
        self._queries: dict[str, NamedQuery] = {}
        for query in queries:
            if query.name in self._queries:
                raise ValueError(f"query {query.name} registered twice")
            self._queries[query.name] = query

    def __contains__(self, name: object) -> bool:
        return name in self._queries

    def names(self) -> list[str]:
        return sorted(self._queries)

    def get(self, name: str) -> NamedQuery:
        query = self._queries.get(name)
        if query is None:
            raise UnknownQueryError(
                f"no named query {name[:80]!r}: the endpoint answers only its registered "
                "queries (streamhub.query.catalog), never SQL"
            )
        return query

    def bind(
        self, name: str, parameters: Mapping[str, Any] | None
    ) -> tuple[NamedQuery, dict[str, Any]]:
        query = self.get(name)
        return query, query.bind(parameters)

    def extended(self, queries: Iterable[NamedQuery]) -> Catalog:
        """A new catalog with ``queries`` added (tests register a slow one this way)."""
        return Catalog([*self._queries.values(), *queries])
