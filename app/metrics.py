"""Prometheus metrics, one registry per app (so tests and several apps never collide)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

_MAX_CACHED_CHILDREN = 4096
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "paybridge_http_requests_total",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "paybridge_http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.callbacks = Counter(
            "paybridge_callbacks_total",
            "Gateway callbacks by provider and verdict.",
            ["provider", "verdict"],
            registry=self.registry,
        )
        self.transitions = Counter(
            "paybridge_payment_transitions_total",
            "Payment state changes by event type.",
            ["type"],
            registry=self.registry,
        )
        self.webhooks = Counter(
            "paybridge_webhook_deliveries_total",
            "Webhook delivery tries by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.gateway_calls = Histogram(
            "paybridge_gateway_call_duration_seconds",
            "Outbound gateway calls by provider, operation and outcome.",
            ["provider", "operation", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

        # (method, route template, status) -> the two label children: looking labels up is most of
        # prometheus_client's cost per request, and a service has a few dozen such combinations.
        self._request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._request_children.get(key)
        if children is None:
            if len(self._request_children) >= _MAX_CACHED_CHILDREN:
                self._request_children.clear()
            children = self._request_children[key] = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
