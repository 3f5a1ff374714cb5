"""The local push service's HTTP face: RFC 8030 ``POST /push/{id}`` plus a ``/control`` API for tests.

``/control`` (no auth: it binds to loopback by default and exists for tests and demos):
  POST   /control/subscribers                  {vapid_key?, private_key?, auth?} → subscription JSON
  GET    /control/subscribers/{id}/messages    what that subscriber decrypted
  PUT    /control/subscribers/{id}/fault       {status?, retry_after?, stall_s?, remaining?, reason?} ("*" = all)
  DELETE /control/subscribers/{id}/fault
  GET    /control/stats                        counters; POST /control/reset; PUT /control/mode {mode}
  PUT    /control/latency                      {ms}: answer every push this much later (benches)
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pushsvc.dev.devpush import vapid_check
from pushsvc.dev.devpush.keys import SubscriberKeys
from pushsvc.dev.devpush.state import DevPushState, Fault, Received
from pushsvc.webpush.vapid import b64url_decode

MAX_BODY = 4096  # RFC 8030 §7.2: a push service must accept at least this much, may refuse more


def _answer(status: int, reason: str = "", **headers: str) -> Response:
    return Response(reason, status_code=status, headers=headers, media_type="text/plain")


async def _apply_fault(state: DevPushState, request: Request, sub_id: str) -> Response | None:
    fault = state.take_fault(sub_id)
    if fault is None:
        return None
    state.count("faulted")
    if fault.stall_s:
        await asyncio.sleep(fault.stall_s)
        if await request.is_disconnected():
            # The sender gave up (timeout): like a real service, do not deliver a half-finished request.
            state.count("dropped")
            return _answer(499, "client went away")
    if fault.status is None:
        return None
    extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
    return _answer(fault.status, fault.reason or f"injected {fault.status}", **extra)


async def push(request: Request) -> Response:
    state: DevPushState = request.app.state.devpush
    sub_id = request.path_params["id"]
    body = await request.body()
    state.count("requests")
    if state.latency_s:
        await asyncio.sleep(state.latency_s)
    response = await _apply_fault(state, request, sub_id)
    if response is not None:
        state.count(f"status_{response.status_code}")
        return response
    if state.mode == "count":
        state.accept(sub_id)
        return _answer(201)
    response = _receive(state, request, sub_id, body)
    state.count(f"status_{response.status_code}")
    return response


def _receive(state: DevPushState, request: Request, sub_id: str, body: bytes) -> Response:
    sub = state.subscribers.get(sub_id)
    if sub is None:
        return _answer(404, "no such subscription")
    origin = f"{request.url.scheme}://{request.headers.get('host', '')}"
    try:
        vapid_check.verify(request.headers.get("authorization"), origin=origin, bound_key=sub.vapid_key)
    except vapid_check.VapidRefused as exc:
        return _answer(exc.status, exc.reason)
    ttl = request.headers.get("ttl", "")
    if not ttl.isdigit():
        return _answer(400, "a TTL header (seconds) is required")
    if request.headers.get("content-encoding", "").lower() != "aes128gcm":
        return _answer(415, "Content-Encoding must be aes128gcm")
    if len(body) > MAX_BODY:
        return _answer(413, f"payload over {MAX_BODY} bytes")
    try:
        payload = sub.keys.decrypt(body)
    except Exception as exc:  # http_ece raises several types; any of them means "the phone could not read it"
        return _answer(400, f"cannot decrypt: {type(exc).__name__}")
    message = Received(
        sub_id, payload, int(ttl), request.headers.get("urgency"), request.headers.get("topic"), time.time()
    )
    state.accept(sub_id, message)
    return _answer(201, Location=f"/message/{uuid.uuid4().hex}")


async def create_subscriber(request: Request) -> Response:
    state: DevPushState = request.app.state.devpush
    spec: dict[str, Any] = await request.json() if await request.body() else {}
    keys = None
    try:
        if spec.get("vapid_key") is not None and len(b64url_decode(spec["vapid_key"])) != 65:
            raise ValueError("vapid_key must be an uncompressed P-256 public key")
        if spec.get("private_key") and spec.get("auth"):
            keys = SubscriberKeys.from_b64url(spec["private_key"], spec["auth"])
    except ValueError as exc:
        return _answer(422, str(exc))
    sub = state.add_subscriber(keys, vapid_key=spec.get("vapid_key"), id=spec.get("id"))
    return JSONResponse(state.subscription(sub), status_code=201)


async def messages(request: Request) -> Response:
    state: DevPushState = request.app.state.devpush
    sub_id = request.path_params["id"]
    if sub_id not in state.subscribers:
        return _answer(404, "no such subscription")
    return JSONResponse([m.as_dict() for m in state.received(sub_id)])


async def fault(request: Request) -> Response:
    state: DevPushState = request.app.state.devpush
    if request.method == "DELETE":
        state.set_fault(request.path_params["id"], None)
    else:
        spec = await request.json()
        retry_after = spec.get("retry_after")
        state.set_fault(
            request.path_params["id"],
            Fault(
                status=spec.get("status"),
                retry_after=None if retry_after is None else str(retry_after),
                stall_s=float(spec.get("stall_s", 0)),
                remaining=spec.get("remaining"),
                reason=spec.get("reason"),
            ),
        )
    return Response(status_code=204)


async def stats(request: Request) -> Response:
    return JSONResponse(request.app.state.devpush.stats())


async def reset(request: Request) -> Response:
    request.app.state.devpush.reset()
    return Response(status_code=204)


async def mode(request: Request) -> Response:
    spec = await request.json()
    if spec.get("mode") not in ("full", "count"):
        return _answer(422, "mode is 'full' or 'count'")
    request.app.state.devpush.mode = spec["mode"]
    return Response(status_code=204)


async def latency(request: Request) -> Response:
    spec = await request.json()
    ms = spec.get("ms")
    if not isinstance(ms, int | float) or not 0 <= ms <= 60_000:
        return _answer(422, "ms is a number of milliseconds between 0 and 60000")
    request.app.state.devpush.latency_s = ms / 1000
    return Response(status_code=204)


def create_app(state: DevPushState) -> Starlette:
    routes = [
        Route("/push/{id}", push, methods=["POST"]),
        Route("/control/subscribers", create_subscriber, methods=["POST"]),
        Route("/control/subscribers/{id}/messages", messages, methods=["GET"]),
        Route("/control/subscribers/{id}/fault", fault, methods=["PUT", "DELETE"]),
        Route("/control/stats", stats, methods=["GET"]),
        Route("/control/reset", reset, methods=["POST"]),
        Route("/control/mode", mode, methods=["PUT"]),
        Route("/control/latency", latency, methods=["PUT"]),
    ]
    app = Starlette(routes=routes)
    app.state.devpush = state
    return app
