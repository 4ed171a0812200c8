"""What an operator's tooling asks of a running process: /healthz, /readyz and /metrics.

No API key: load balancers and Prometheus call these. /metrics alone may need a bearer token
(PRINTWORK_METRICS_TOKEN), since its labels name routes and environments.
"""

from __future__ import annotations

import hmac
from functools import cache

import orjson
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from printwork import metrics
from printwork.api.http import context
from printwork.core.merchants.service import utcnow
from printwork.core.process.health import backlog
from printwork.migrations import runner

PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def claim(path: str) -> str | None:
    return path if path in PATHS else None


def _json(status: int, body: dict) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json",
                    headers={"cache-control": "no-store"})


async def healthz(request: Request) -> Response:
    return _json(200, {"status": "ok"})


@cache
def _revisions(database_url: str) -> tuple[frozenset[str], frozenset[str]]:
    """(the heads this Printwork needs, every revision it knows): read once, not at every probe."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(runner.alembic_config(database_url))
    return frozenset(script.get_heads()), frozenset(m.revision for m in script.walk_revisions())


def _migrations_check(current: frozenset[str], database_url: str) -> str:
    expected, known = _revisions(database_url)
    if current == expected:
        return "ok"
    at = ", ".join(sorted(current)) or "nothing"
    if not current <= known:
        # A newer Printwork migrated the database while this process runs the old code: the
        # process is the one to replace (docs/deployment.md, "Upgrades").
        return f"ahead: at {at}, which this Printwork does not know; a newer version migrated it, restart this " \
               "process on that version"
    return f"behind: at {at}, this Printwork needs {', '.join(sorted(expected))}; run `printwork db upgrade`"


def _database_checks(ctx) -> dict[str, str]:
    checks: dict[str, str] = {}
    try:
        with ctx.database.engine.connect() as connection:
            connection.execute(text("select 1"))
            checks["database"] = "ok"
            # Read directly: Alembic's MigrationContext logs two lines each time, once per probe.
            try:
                current = frozenset(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
            except DBAPIError:  # never migrated
                current = frozenset()
    except Exception as exc:  # noqa: BLE001 - whatever it is, the answer is "not ready, because"
        return {"database": f"unreachable: {type(exc).__name__}: {exc}"[:300]}
    checks["migrations"] = _migrations_check(current, ctx.settings.resolved_database_url)
    return checks


def _queue_depth(ctx) -> int:
    return ctx.jobs.huey.pending_count()


async def readyz(request: Request) -> Response:
    """200 only when the database answers, its schema is this version's and the queue answers."""
    ctx = context(request)
    checks = await ctx.blocking(_database_checks, ctx)
    try:
        await ctx.blocking(_queue_depth, ctx)
        checks["queue"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["queue"] = f"unreachable: {type(exc).__name__}: {exc}"[:300]
    ready = all(value == "ok" for value in checks.values()) and len(checks) == 3
    return _json(200 if ready else 503, {"status": "ready" if ready else "not ready", "checks": checks})


async def metrics_page(request: Request) -> Response:
    ctx = context(request)
    token = ctx.settings.metrics_token
    if token:
        offered = request.headers.get("authorization", "")
        if not hmac.compare_digest(offered.encode(), f"Bearer {token}".encode()):
            return Response("a bearer token is needed for /metrics\n", status_code=401, media_type="text/plain",
                            headers={"www-authenticate": 'Bearer realm="metrics"'})

    def read() -> tuple[bytes, str]:
        now = utcnow()
        with ctx.database.read() as session:
            state = backlog(session, now)
        try:
            depth = _queue_depth(ctx)
        except Exception:  # noqa: BLE001 - /readyz says why; the other figures are still worth having
            depth = None
        return metrics.exposition(state, depth, now)

    body, content_type = await ctx.blocking(read)
    return Response(body, media_type=content_type, headers={"cache-control": "no-store"})


def render_error(exc: Exception, trace: str, headers) -> Response | None:
    return None


def internal_error(trace: str, headers) -> Response:
    return _json(500, {"status": "error", "traceParent": trace})


routes = [
    Route("/healthz", healthz, methods=["GET", "HEAD"]),
    Route("/readyz", readyz, methods=["GET", "HEAD"]),
    Route("/metrics", metrics_page, methods=["GET"]),
]
