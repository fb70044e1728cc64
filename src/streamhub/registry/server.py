"""HTTP front of the registry: the Confluent Schema Registry REST subset streamhub uses.

Served: schema by id, subjects and versions (list, get, register, lookup, delete),
compatibility tests and levels (global and per subject). Avro only.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from streamhub.log import get_logger
from streamhub.registry.errors import RegistryError, RegistryInvalidSchemaError
from streamhub.registry.metrics import RegistryMetrics
from streamhub.registry.store import RegistryStore

log = get_logger(__name__)
CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
STORE: web.AppKey[RegistryStore] = web.AppKey("store", RegistryStore)
METRICS: web.AppKey[RegistryMetrics] = web.AppKey("metrics", RegistryMetrics)
PROMETHEUS: web.AppKey[CollectorRegistry] = web.AppKey("prometheus", CollectorRegistry)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(data), status=status, content_type=CONTENT_TYPE)


@web.middleware
async def _metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        info = request.match_info.route.resource
        route = info.canonical if info is not None else "unmatched"
        request.app[METRICS].requests.labels(request.method, route, str(status)).inc()


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except RegistryError as exc:
        return _json({"error_code": exc.error_code, "message": str(exc)}, exc.http_status)
    except web.HTTPException:
        raise
    except Exception as exc:
        log.exception("registry request failed", extra={"path": request.path})
        return _json({"error_code": 50001, "message": f"internal error: {exc}"}, 500)


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.text() or "{}")
    except ValueError as exc:
        raise RegistryInvalidSchemaError(f"request body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise RegistryInvalidSchemaError("request body must be a JSON object")
    return body


async def _schema_text(request: web.Request) -> str:
    body = await _body(request)
    schema_type = body.get("schemaType", "AVRO")
    if schema_type != "AVRO":
        raise RegistryInvalidSchemaError(f"schemaType {schema_type!r} is not supported; only AVRO")
    if body.get("references"):
        raise RegistryInvalidSchemaError("schema references are not supported; inline named types")
    schema = body.get("schema")
    if not isinstance(schema, str):
        raise RegistryInvalidSchemaError("field 'schema' (the schema as a JSON string) is required")
    return schema


async def _in_thread(func: Callable[..., Any], *args: Any) -> Any:
    """Store writes wait for Kafka's acknowledgement: keep them off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, partial(func, *args))


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "false").lower() == "true"


async def root(_: web.Request) -> web.Response:
    return _json({})


async def metrics(request: web.Request) -> web.Response:
    request.app[METRICS].schemas.set(len(request.app[STORE].state.schemas))
    body = generate_latest(request.app[PROMETHEUS])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def schema_types(_: web.Request) -> web.Response:
    return _json(["AVRO"])


async def schema_by_id(request: web.Request) -> web.Response:
    state = request.app[STORE].state
    return _json({"schema": state.schema(int(request.match_info["id"]))})


async def schema_id_versions(request: web.Request) -> web.Response:
    usages = request.app[STORE].state.usages(int(request.match_info["id"]))
    return _json([{"subject": s, "version": v} for s, v in usages])


async def schema_id_subjects(request: web.Request) -> web.Response:
    usages = request.app[STORE].state.usages(int(request.match_info["id"]))
    return _json(sorted({s for s, _ in usages}))


async def subjects(request: web.Request) -> web.Response:
    return _json(request.app[STORE].state.subject_names(_flag(request, "deleted")))


async def subject_versions(request: web.Request) -> web.Response:
    state = request.app[STORE].state
    found = state.versions(request.match_info["subject"], _flag(request, "deleted"))
    return _json([v.version for v in found])


def _version_doc(store: RegistryStore, subject: str, version: str | int) -> dict[str, Any]:
    v = store.state.version(subject, version)
    return {
        "subject": subject,
        "version": v.version,
        "id": v.schema_id,
        "schema": store.state.schemas[v.schema_id],
    }


async def subject_version(request: web.Request) -> web.Response:
    m = request.match_info
    return _json(_version_doc(request.app[STORE], m["subject"], m["version"]))


async def subject_version_schema(request: web.Request) -> web.Response:
    m = request.match_info
    doc = _version_doc(request.app[STORE], m["subject"], m["version"])
    return web.Response(text=doc["schema"], content_type=CONTENT_TYPE)


async def register(request: web.Request) -> web.Response:
    subject = request.match_info["subject"]
    text = await _schema_text(request)
    store = request.app[STORE]
    schema_id, version = await _in_thread(store.register, subject, text)
    return _json(
        {
            "id": schema_id,
            "subject": subject,
            "version": version,
            "schema": store.state.schemas[schema_id],
        }
    )


async def lookup(request: web.Request) -> web.Response:
    subject = request.match_info["subject"]
    text = await _schema_text(request)
    state = request.app[STORE].state
    v = state.lookup(subject, text)
    return _json(
        {
            "subject": subject,
            "version": v.version,
            "id": v.schema_id,
            "schema": state.schemas[v.schema_id],
        }
    )


async def delete_subject(request: web.Request) -> web.Response:
    store = request.app[STORE]
    versions = await _in_thread(
        store.delete, request.match_info["subject"], None, _flag(request, "permanent")
    )
    return _json(versions)


async def delete_version(request: web.Request) -> web.Response:
    store = request.app[STORE]
    m = request.match_info
    versions = await _in_thread(
        store.delete, m["subject"], m["version"], _flag(request, "permanent")
    )
    return _json(versions[0])


async def compatibility(request: web.Request) -> web.Response:
    m = request.match_info
    text = await _schema_text(request)
    problems = request.app[STORE].state.compatibility_problems(
        m["subject"], text, m.get("version", "latest")
    )
    body: dict[str, Any] = {"is_compatible": not problems}
    if _flag(request, "verbose"):
        body["messages"] = problems
    return _json(body)


async def get_config(request: web.Request) -> web.Response:
    subject = request.match_info.get("subject")
    level = request.app[STORE].state.level(subject, _flag(request, "defaultToGlobal"))
    return _json({"compatibilityLevel": level})


async def put_config(request: web.Request) -> web.Response:
    subject = request.match_info.get("subject")
    body = await _body(request)
    level = body.get("compatibility") or body.get("compatibilityLevel")
    if not isinstance(level, str):
        raise RegistryInvalidSchemaError("field 'compatibility' is required")
    await _in_thread(request.app[STORE].set_level, subject, level)
    return _json({"compatibility": level.upper()})


async def delete_config(request: web.Request) -> web.Response:
    subject = request.match_info["subject"]
    store = request.app[STORE]
    level = store.state.level(subject)
    await _in_thread(store.set_level, subject, None)
    return _json({"compatibilityLevel": level})


def build_app(store: RegistryStore, registry: CollectorRegistry | None = None) -> web.Application:
    """The registry's app; its metrics go to ``registry`` (a fresh one when None, so that
    several apps can live in one process, as in tests) and ``/metrics`` serves that registry."""
    prometheus = registry if registry is not None else CollectorRegistry()
    app = web.Application(middlewares=[_metrics, _errors])
    app[STORE] = store
    app[PROMETHEUS] = prometheus
    app[METRICS] = RegistryMetrics.create(prometheus)
    r = app.router
    r.add_get("/", root)
    r.add_get("/metrics", metrics)
    r.add_get("/schemas/types", schema_types)
    r.add_get("/schemas/ids/{id:\\d+}", schema_by_id)
    r.add_get("/schemas/ids/{id:\\d+}/versions", schema_id_versions)
    r.add_get("/schemas/ids/{id:\\d+}/subjects", schema_id_subjects)
    r.add_get("/subjects", subjects)
    r.add_post("/subjects/{subject}", lookup)
    r.add_delete("/subjects/{subject}", delete_subject)
    r.add_get("/subjects/{subject}/versions", subject_versions)
    r.add_post("/subjects/{subject}/versions", register)
    r.add_get("/subjects/{subject}/versions/{version}", subject_version)
    r.add_delete("/subjects/{subject}/versions/{version}", delete_version)
    r.add_get("/subjects/{subject}/versions/{version}/schema", subject_version_schema)
    r.add_post("/compatibility/subjects/{subject}/versions/{version}", compatibility)
    r.add_post("/compatibility/subjects/{subject}/versions", compatibility)
    r.add_get("/config", get_config)
    r.add_put("/config", put_config)
    r.add_get("/config/{subject}", get_config)
    r.add_put("/config/{subject}", put_config)
    r.add_delete("/config/{subject}", delete_config)
    return app


def serve(store: RegistryStore, host: str, port: int) -> None:
    """Run until interrupted (SIGTERM/SIGINT)."""
    log.info("registry listening", extra={"host": host, "port": port})
    web.run_app(build_app(store, REGISTRY), host=host, port=port, print=None, access_log=None)
