"""Creating and updating Debezium connectors through a Kafka Connect worker's REST API.

Every config is first validated by the connector plugin itself
(``PUT /connector-plugins/<class>/config/validate``): a refused one raises
:class:`ConnectValidationError` with Connect's own errors by field, and nothing is put.
Only then ``PUT /connectors/<name>/config`` creates or updates it (Connect's PUT alone
answers some invalid Debezium configs with a bare NullPointerException).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from streamhub.debezium.errors import (
    ConnectRequestError,
    ConnectUnreachableError,
    ConnectValidationError,
)
from streamhub.secrets_mask import mask_url
from streamhub.stack.connect import ConnectRest, validate_path, validation_errors
from streamhub.stack.errors import ConnectRestError


@dataclass(frozen=True, slots=True)
class ConnectorState:
    """A connector's state and its tasks' (``FAILED`` tasks carry their trace's first line)."""

    name: str
    state: str
    tasks: tuple[tuple[str, str | None], ...]  # (state, error) per task

    @property
    def failed(self) -> bool:
        return self.state == "FAILED" or any(state == "FAILED" for state, _ in self.tasks)


class ConnectClient:
    """One Kafka Connect worker, by its REST URL."""

    def __init__(self, url: str, timeout_s: float = 60) -> None:
        self.url = url
        self.rest = ConnectRest(url)
        self.timeout_s = timeout_s  # validation connects to the database: give it time

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            return self.rest.request(method, path, body, self.timeout_s)
        except ConnectRestError as exc:
            raise ConnectRequestError(str(exc), exc.status) from None
        except OSError as exc:
            raise ConnectUnreachableError(
                f"Kafka Connect at {mask_url(self.url)} did not answer ({exc}); is it up? "
                "(`streamhub stack up --connect`, or set STREAMHUB_CONNECT_URL)"
            ) from exc

    def plugins(self) -> set[str]:
        """The connector classes the worker has installed."""
        return {str(p.get("class")) for p in self._call("GET", "/connector-plugins")}

    def validate(self, config: Mapping[str, str]) -> dict[str, list[str]]:
        """Connect's validation of ``config`` by its plugin: the errors by field."""
        return validation_errors(self._call("PUT", validate_path(config), dict(config)))

    def apply(self, name: str, config: Mapping[str, str]) -> Literal["created", "updated"]:
        """Validate, then create or update connector ``name`` with ``config``."""
        errors = self.validate({"name": name, **config})
        if errors:
            raise ConnectValidationError(name, errors)
        existed = name in self.connectors()
        self._call("PUT", f"/connectors/{name}/config", dict(config))
        return "updated" if existed else "created"

    def connectors(self) -> list[str]:
        return [str(n) for n in self._call("GET", "/connectors")]

    def config(self, name: str) -> dict[str, str]:
        return {str(k): str(v) for k, v in self._call("GET", f"/connectors/{name}/config").items()}

    def state(self, name: str) -> ConnectorState:
        status = self._call("GET", f"/connectors/{name}/status")
        tasks = []
        for task in status.get("tasks", []):
            trace = task.get("trace")
            tasks.append((str(task.get("state")), str(trace).splitlines()[0] if trace else None))
        return ConnectorState(name, str(status["connector"]["state"]), tuple(tasks))
