"""The sample API's aiohttp application: the third-party contract, auth, faults and admin routes.

Data routes (the contract in design.md)::

    GET {base}/{location_id}/get-summary            -> {"states": {"failed": F, "rejected": R}}
    GET {base}/{location_id}/get-data?state=S&limit=L&offset=O
                                                   -> {"count": n, "results": [...]}

``limit`` defaults to 100 and may not exceed :data:`MAX_LIMIT` (1000); ``offset`` defaults to
0. A page with ``count < limit`` is the last; an offset past the end gives ``count`` 0. Bad
parameters get 400, an unknown location 404, bad credentials 401; every error body is
``{"error": code, "message": text}`` (plus ``"parameter"`` for a bad parameter).

Token route (OAuth mode): ``POST|GET|PUT {base}/oauth/token``; see :mod:`.auth`.

Admin routes (for tests and operators); all but health need the admin token in the
``X-Dsa-Admin-Token`` header (:data:`ADMIN_TOKEN_HEADER`), else 401: a web page could otherwise
change the faults or read the data. The token is random per server unless one is given::

    GET  /_admin/health                   -> {"status": "ok", "locations": N}   (no token)
    GET  /_admin/ground-truth?locations=a,b -> {"records": [...]}   (default: every location)
    GET  /_admin/faults   POST /_admin/faults (a FaultPlan as JSON; replaces the plan)
    GET  /_admin/requests DELETE /_admin/requests (reset the counts)

Each data request is handled in this order: count it, check auth, apply faults (delay, then
the fault), then validate and answer. Page bodies are joined from each record's pre-encoded
JSON, so a page costs no JSON encoding.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import re
from typing import Any

from aiohttp import web

from .accounting import RequestCounter, RequestKey
from .auth import Authenticator, AuthError
from .dataset import DATA_TYPES, Dataset, DatasetError
from .faults import FaultInjector, FaultPlan, FaultPlanError, FaultRule

__all__ = ["ADMIN_TOKEN_HEADER", "MAX_LIMIT", "DEFAULT_LIMIT", "SampleApiState", "build_app"]

ADMIN_TOKEN_HEADER = "X-Dsa-Admin-Token"

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
_INT_RE = re.compile(r"^-?[0-9]{1,18}$")
_JSON = "application/json"


class SampleApiState:
    """Everything the handlers share: the data, auth, the current fault plan and the counts."""

    def __init__(self, dataset: Dataset, authenticator: Authenticator, faults: FaultPlan | None = None,
                 *, admin_token: str):
        if not admin_token:
            raise ValueError("admin_token: must be non-empty")
        self.dataset = dataset
        self.authenticator = authenticator
        self.admin_token = admin_token
        self.injector = FaultInjector(faults)
        self.counter = RequestCounter()
        self.stopping: asyncio.Event | None = None

    def set_faults(self, plan: FaultPlan) -> None:
        """Replace the plan; request numbering for fault decisions starts again at 0."""
        self.injector = FaultInjector(plan)


def build_app(state: SampleApiState) -> web.Application:
    """The aiohttp application serving ``state`` (created on the loop that will run it)."""
    app = web.Application()
    handlers = _Handlers(state)

    async def on_startup(_: web.Application) -> None:
        state.stopping = asyncio.Event()

    async def on_shutdown(_: web.Application) -> None:
        if state.stopping is not None:
            state.stopping.set()  # end held (hanging) requests so shutdown does not wait on them

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    app.router.add_get("/_admin/health", handlers.health)
    admin = handlers.admin_only
    app.router.add_get("/_admin/ground-truth", admin(handlers.ground_truth))
    app.router.add_get("/_admin/faults", admin(handlers.get_faults))
    app.router.add_post("/_admin/faults", admin(handlers.post_faults))
    app.router.add_get("/_admin/requests", admin(handlers.get_requests))
    app.router.add_delete("/_admin/requests", admin(handlers.delete_requests))
    for method in ("POST", "GET", "PUT"):
        app.router.add_route(method, "/oauth/token", handlers.token)
    app.router.add_get("/{location_id}/get-summary", handlers.get_summary)
    app.router.add_get("/{location_id}/get-data", handlers.get_data)
    return app


class _BadParameter(Exception):
    def __init__(self, parameter: str, message: str):
        self.parameter = parameter
        self.message = message


def _error(status: int, code: str, message: str, **extra: Any) -> web.Response:
    body = json.dumps({"error": code, "message": message, **extra}, ensure_ascii=False)
    return web.Response(status=status, text=body, content_type=_JSON)


def _json(value: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(value, ensure_ascii=False), content_type=_JSON)


def _not_found(location_id: str) -> web.Response:
    return _error(404, "NotFound", f"unknown location {location_id!r}")


def _int_param(query: Any, name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    if not _INT_RE.match(raw):
        raise _BadParameter(name, f"{name} must be an integer, got {raw[:40]!r}")
    return int(raw)


class _Handlers:
    def __init__(self, state: SampleApiState):
        self.s = state

    # ------------------------------------------------------------ data routes
    async def get_summary(self, request: web.Request) -> web.Response:
        location_id = request.match_info["location_id"]
        self.s.counter.add(RequestKey(location_id, "get-summary"))
        early, fault = await self._guard(request, location_id, "get-summary")
        if early is not None:
            return early
        body = json.dumps({"states": self.s.dataset.sizes(location_id)}).encode()
        if fault is not None and fault.kind == "malformed":
            body = body[: len(body) // 2]
        return web.Response(body=body, content_type=_JSON)

    async def get_data(self, request: web.Request) -> web.Response:
        location_id = request.match_info["location_id"]
        query = request.query
        state = query.get("state")
        try:
            offset_for_count: int | None = _int_param(query, "offset", 0)
        except _BadParameter:
            offset_for_count = None
        self.s.counter.add(RequestKey(location_id, "get-data", state if state in DATA_TYPES else None,
                                      offset_for_count))
        early, fault = await self._guard(request, location_id, "get-data")
        if early is not None:
            return early
        try:
            if state is None:
                raise _BadParameter("state", f"state is required (one of {', '.join(DATA_TYPES)})")
            if state not in DATA_TYPES:
                raise _BadParameter("state", f"state must be one of {', '.join(DATA_TYPES)}, got {state[:40]!r}")
            limit = _int_param(query, "limit", DEFAULT_LIMIT)
            if not 1 <= limit <= MAX_LIMIT:
                raise _BadParameter("limit", f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
            offset = _int_param(query, "offset", 0)
            if offset < 0:
                raise _BadParameter("offset", f"offset must be 0 or more, got {offset}")
        except _BadParameter as exc:
            return _error(400, "BadRequest", exc.message, parameter=exc.parameter)
        page = self.s.dataset.page(location_id, state, offset, limit)
        count = len(page)
        if fault is not None and fault.kind == "count_mismatch":
            count = count + fault.count_delta
            if count < 0 or count == len(page):
                count = len(page) + 1
        body = b'{"count":%d,"results":[%s]}' % (count, b",".join(page))
        if fault is not None and fault.kind == "malformed":
            body = body[: max(1, len(body) // 2)]
        return web.Response(body=body, content_type=_JSON, charset="utf-8")

    async def _guard(self, request: web.Request, location_id: str,
                     endpoint: str) -> tuple[web.Response | None, FaultRule | None]:
        """Auth, then faults, then the location check: an early answer (or None to go on),
        and the fault that shapes the body (malformed, count_mismatch) if any."""
        try:
            self.s.authenticator.check(request.headers)
        except AuthError as exc:
            return _error(exc.status, exc.code, exc.message), None
        decision = self.s.injector.decide(location_id, endpoint, request.path, request.query_string)
        if decision.delay:
            await self._hold(decision.delay)
        fault = decision.fault
        if fault is not None:
            if fault.kind == "error":
                return _error(fault.status, "InjectedFault", f"injected HTTP {fault.status}"), None
            if fault.kind == "throttle":
                response = _error(429, "TooManyRequests", "injected throttling, retry later")
                response.headers["Retry-After"] = str(fault.retry_after)
                return response, None
            if fault.kind == "not_found":
                return _not_found(location_id), None
        if not self.s.dataset.has_location(location_id):
            return _not_found(location_id), None
        return None, fault

    async def _hold(self, seconds: float) -> None:
        """Wait ``seconds``, or less if the server is shutting down."""
        assert self.s.stopping is not None  # set when the app starts
        try:
            await asyncio.wait_for(self.s.stopping.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    # ------------------------------------------------------------ token route
    async def token(self, request: web.Request) -> web.Response:
        form: dict[str, str] = dict(request.query)
        if request.can_read_body:
            if request.content_type == _JSON:
                try:
                    body = await request.json()
                except ValueError:
                    return _error(400, "invalid_request", "body is not valid JSON")
                if isinstance(body, dict):
                    form.update({k: str(v) for k, v in body.items()})
            else:
                form.update({k: str(v) for k, v in (await request.post()).items()})
        try:
            reply = self.s.authenticator.issue_token(request.headers, form)
        except AuthError as exc:
            return _json({"error": exc.code, "error_description": exc.message, "message": exc.message},
                         status=exc.status)
        response = _json(reply)
        response.headers["Cache-Control"] = "no-store"
        return response

    # ------------------------------------------------------------ admin routes
    def admin_only(self, handler: Any) -> Any:
        """``handler``, answered only for requests that carry the admin token."""
        async def checked(request: web.Request) -> web.Response:
            given = request.headers.get(ADMIN_TOKEN_HEADER, "")
            if not hmac.compare_digest(given.encode("utf-8"), self.s.admin_token.encode("utf-8")):
                code = "InvalidAdminToken" if given else "MissingAdminToken"
                return _error(401, code, f"admin routes need the admin token in the {ADMIN_TOKEN_HEADER} header "
                                         "(printed by `dsa local up`)")
            return await handler(request)
        return checked

    async def health(self, request: web.Request) -> web.Response:
        return _json({"status": "ok", "locations": self.s.dataset.params.locations})

    async def ground_truth(self, request: web.Request) -> web.Response:
        raw = request.query.get("locations")
        ids = None if raw is None else [x for x in raw.split(",") if x]
        try:
            records = self.s.dataset.records(ids)
        except DatasetError as exc:
            return _error(404, "NotFound", str(exc), parameter="locations")
        return _json({"records": [r.to_dict() for r in records]})

    async def get_faults(self, request: web.Request) -> web.Response:
        return _json(self.s.injector.plan.to_dict())

    async def post_faults(self, request: web.Request) -> web.Response:
        try:
            values = await request.json()
        except ValueError:
            return _error(400, "BadRequest", "body must be a JSON fault plan")
        try:
            plan = FaultPlan.from_dict(values)
        except FaultPlanError as exc:
            return _error(400, "BadRequest", str(exc))
        self.s.set_faults(plan)
        return _json(plan.to_dict())

    async def get_requests(self, request: web.Request) -> web.Response:
        return _json(self.s.counter.snapshot().to_dict())

    async def delete_requests(self, request: web.Request) -> web.Response:
        self.s.counter.reset()
        return _json({"total": 0, "requests": []})
