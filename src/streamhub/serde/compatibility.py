"""Avro schema compatibility by the specification's schema-resolution rules.

``reader_can_read(reader, writer)`` lists the reasons a reader schema cannot
read data written with a writer schema (empty when it can). The registry and
the CI check of ``avro_schemas/`` both build on it, so a schema change that
would break consumers fails before it ships.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from streamhub.serde.errors import InvalidSchemaError

Level = Literal[
    "NONE",
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
]
LEVELS: tuple[Level, ...] = (
    "NONE",
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
)

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_PROMOTIONS = {
    "int": {"long", "float", "double"},
    "long": {"float", "double"},
    "float": {"double"},
    "string": {"bytes"},
    "bytes": {"string"},
}
_NAMED = frozenset({"record", "error", "enum", "fixed"})


class _Names:
    """Named types of one schema, by full name, so references can be followed."""

    def __init__(self, schema: Any) -> None:
        self.types: dict[str, dict[str, Any]] = {}
        self._collect(schema, None)

    def _fullname(self, name: str, namespace: str | None) -> str:
        if "." in name or not namespace:
            return name
        return f"{namespace}.{name}"

    def _collect(self, node: Any, namespace: str | None) -> None:
        if isinstance(node, list):
            for branch in node:
                self._collect(branch, namespace)
            return
        if not isinstance(node, dict):
            return
        kind = node.get("type")
        if kind in _NAMED:
            if "name" not in node:
                raise InvalidSchemaError(f"a {kind} has no name: {node}")
            full = self._fullname(node["name"], node.get("namespace", namespace))
            self.types[full] = node
            node_ns = full.rsplit(".", 1)[0] if "." in full else None
            node["__fullname"] = full
            for field in node.get("fields", []):
                self._collect(field.get("type"), node_ns)
        elif kind == "array":
            self._collect(node.get("items"), namespace)
        elif kind == "map":
            self._collect(node.get("values"), namespace)
        elif isinstance(kind, (dict, list)):
            self._collect(kind, namespace)

    def resolve(self, node: Any) -> Any:
        """Follow a named reference; unwrap ``{"type": "<primitive>"}``."""
        if isinstance(node, str) and node not in PRIMITIVES:
            found = self.types.get(node)
            if found is None:
                # unqualified reference inside a namespace: match by last component
                matches = [t for n, t in self.types.items() if n.rsplit(".", 1)[-1] == node]
                if len(matches) != 1:
                    raise InvalidSchemaError(f"unknown type name {node!r}")
                found = matches[0]
            return found
        if isinstance(node, dict):
            kind = node.get("type")
            if (
                isinstance(kind, (str, list))
                and kind not in _NAMED
                and kind not in ("array", "map")
            ):
                return self.resolve(kind)
            if isinstance(kind, dict):
                return self.resolve(kind)
        return node


def _kind(node: Any) -> str:
    if isinstance(node, list):
        return "union"
    if isinstance(node, str):
        return node
    return str(node["type"])


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


class _Checker:
    def __init__(self, reader: Any, writer: Any) -> None:
        self.reader_names = _Names(reader)
        self.writer_names = _Names(writer)
        self.seen: set[tuple[str, str]] = set()

    def check(self, reader: Any, writer: Any, path: str) -> list[str]:
        r = self.reader_names.resolve(reader)
        w = self.writer_names.resolve(writer)
        rk, wk = _kind(r), _kind(w)
        if wk == "union":
            problems: list[str] = []
            for i, branch in enumerate(w):
                problems += self.check(r, branch, f"{path}[union branch {i}]")
            return problems
        if rk == "union":
            for branch in r:
                if not self.check(branch, w, path):
                    return []
            return [f"{path}: reader union {self._describe(r)} has no branch for writer type {wk}"]
        if rk in PRIMITIVES or wk in PRIMITIVES:
            if rk == wk or rk in _PROMOTIONS.get(wk, set()):
                return []
            return [f"{path}: writer type {wk} cannot be read as {rk}"]
        if rk != wk and not (rk in ("record", "error") and wk in ("record", "error")):
            return [f"{path}: writer type {wk} cannot be read as {rk}"]
        if rk in _NAMED and not self._names_match(r, w):
            return [
                f"{path}: writer {wk} {w['__fullname']} does not match reader {r['__fullname']}"
            ]
        if rk in ("record", "error"):
            return self._check_record(r, w, path)
        if rk == "enum":
            return self._check_enum(r, w, path)
        if rk == "fixed":
            if r.get("size") != w.get("size"):
                return [
                    f"{path}: fixed size {w.get('size')} cannot be read as size {r.get('size')}"
                ]
            return []
        if rk == "array":
            return self.check(r["items"], w["items"], f"{path}[]")
        if rk == "map":
            return self.check(r["values"], w["values"], f"{path}{{}}")
        raise InvalidSchemaError(f"{path}: unsupported Avro type {rk!r}")

    def _names_match(self, r: dict[str, Any], w: dict[str, Any]) -> bool:
        aliases = {_short(a) for a in r.get("aliases", [])}
        return (
            _short(r["__fullname"]) == _short(w["__fullname"]) or _short(w["__fullname"]) in aliases
        )

    def _check_record(self, r: dict[str, Any], w: dict[str, Any], path: str) -> list[str]:
        key = (r["__fullname"], w["__fullname"])
        if key in self.seen:  # recursive types: assume compatible on the cycle
            return []
        self.seen.add(key)
        writer_fields = {f["name"]: f for f in w.get("fields", [])}
        problems: list[str] = []
        for field in r.get("fields", []):
            names = [field["name"], *field.get("aliases", [])]
            match = next((writer_fields[n] for n in names if n in writer_fields), None)
            field_path = f"{path}.{field['name']}" if path else field["name"]
            if match is None:
                if "default" not in field:
                    problems.append(
                        f"{field_path}: field added without a default, "
                        "so data written before it cannot be read"
                    )
                continue
            problems += self.check(field["type"], match["type"], field_path)
        return problems

    def _check_enum(self, r: dict[str, Any], w: dict[str, Any], path: str) -> list[str]:
        missing = [s for s in w.get("symbols", []) if s not in set(r.get("symbols", []))]
        if missing and "default" not in r:
            return [f"{path}: enum {r['__fullname']} lacks writer symbols {missing}"]
        return []

    @staticmethod
    def _describe(union: Sequence[Any]) -> str:
        return (
            "["
            + ", ".join(
                _kind(b) if not isinstance(b, dict) or "name" not in b else b["name"] for b in union
            )
            + "]"
        )


def _copy(schema: Any) -> Any:
    """Deep copy of plain JSON, so annotating names never touches the caller's schema."""
    if isinstance(schema, dict):
        return {k: _copy(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_copy(v) for v in schema]
    return schema


def reader_can_read(reader: Any, writer: Any) -> list[str]:
    """Reasons the reader schema cannot read data written with the writer schema."""
    reader, writer = _copy(reader), _copy(writer)
    return _Checker(reader, writer).check(reader, writer, "")


def check_level(level: Level, new: Any, previous: Iterable[Any]) -> list[str]:
    """Problems with registering ``new`` after ``previous`` (oldest first) at ``level``."""
    if level == "NONE":
        return []
    history = list(previous)
    if not history:
        return []
    against = history if level.endswith("_TRANSITIVE") else history[-1:]
    problems: list[str] = []
    for old in against:
        if level.startswith(("BACKWARD", "FULL")):
            problems += [f"new schema cannot read old data: {p}" for p in reader_can_read(new, old)]
        if level.startswith(("FORWARD", "FULL")):
            problems += [f"old schema cannot read new data: {p}" for p in reader_can_read(old, new)]
    return problems
