"""Logging and Prometheus metrics for the server (logging is shared with the CLI)."""

from __future__ import annotations

import logging
import sys

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram


def configure_logging(level: int = logging.INFO, fmt: str = "json") -> None:
    """structlog to stderr, one line per event (`fmt`: json, or console for key=value); stdout stays free for the
    CLI. Lines carry the request id bound by the server's request middleware."""
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(default=str) if fmt == "json"
        else structlog.processors.KeyValueRenderer(key_order=["timestamp", "level", "event"]))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # sys.stderr looked up per logger, not bound once: it can be replaced after configuration (test capture,
        # a daemon redirecting its output), and a logger must never write to a closed stream.
        logger_factory=lambda *_: structlog.PrintLogger(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


class Metrics:
    """Prometheus metrics in a registry of this app's own (several apps can live in one test process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("partnerpilot_http_requests_total", "HTTP requests.",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("partnerpilot_http_request_duration_seconds", "HTTP request latency.",
                                 ["method", "route"], registry=self.registry)
        self.turns = Counter("partnerpilot_turns_total", "Conversation turns.", ["role", "endpoint"],
                             registry=self.registry)
        self.refusals = Counter("partnerpilot_refusals_total", "Turns the agent refused.", ["role"],
                                registry=self.registry)
        self.fallbacks = Counter("partnerpilot_fallbacks_total", "Turns answered by the offline planner after the "
                                 "LLM endpoint failed.", ["role"], registry=self.registry)
        self.turn_latency = Histogram("partnerpilot_turn_duration_seconds", "Time to run one turn.", ["endpoint"],
                                      registry=self.registry)

    def turn(self, role: str, endpoint: str, refused: bool, fallback: bool, seconds: float) -> None:
        self.turns.labels(role, endpoint).inc()
        self.turn_latency.labels(endpoint).observe(seconds)
        if refused:
            self.refusals.labels(role).inc()
        if fallback:
            self.fallbacks.labels(role).inc()


__all__ = ["Metrics", "configure_logging"]
