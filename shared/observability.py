"""Structured JSON logs, a trace id carried from requests into events, metrics, probes."""

from __future__ import annotations

import logging
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

TRACE_HEADER = "X-Trace-Id"
_trace_id: ContextVar[str | None] = ContextVar("trace_id", default=None)

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests served", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds", "HTTP request latency", ["service", "method", "route"]
)
EVENTS_PUBLISHED = Counter("events_published_total", "Events published by the outbox relay", ["topic"])
EVENTS_HANDLED = Counter(
    "events_handled_total", "Events handled by consumers", ["group", "type", "outcome"]
)


def current_trace_id() -> str | None:
    """Return the trace id of the request or event being handled, if any."""
    return _trace_id.get()


def bind_trace_id(trace_id: str | None) -> None:
    """Make `trace_id` current for logs and for the events created from here on."""
    _trace_id.set(trace_id)
    structlog.contextvars.bind_contextvars(trace_id=trace_id)


def new_trace_id() -> str:
    return uuid.uuid4().hex


def configure_logging(level: str = "INFO", json: bool = True) -> None:
    """Configure structlog (and stdlib logging) to print one JSON object per line."""
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=level.upper(), stream=sys.stderr, format="%(message)s")
    for noisy in ("aiokafka", "kafka", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class TraceMiddleware:
    """Give every request a trace id (from X-Trace-Id or new), log it and time it."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        raw = headers.get(TRACE_HEADER.lower().encode())
        trace_id = raw.decode()[:64] if raw else new_trace_id()
        structlog.contextvars.clear_contextvars()
        bind_trace_id(trace_id)
        started = time.perf_counter()
        status = 500

        async def send_with_trace(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"].append((TRACE_HEADER.lower().encode(), trace_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_trace)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            elapsed = time.perf_counter() - started
            HTTP_REQUESTS.labels(self.service, scope["method"], path, str(status)).inc()
            HTTP_LATENCY.labels(self.service, scope["method"], path).observe(elapsed)


async def metrics_endpoint(_: Request) -> Response:
    """Serve Prometheus metrics."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


ReadinessCheck = Callable[[], Awaitable[None]]
