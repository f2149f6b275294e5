"""Pydantic model of the optional Prometheus endpoint (agent.daemon.metrics).

Off by default; when on, it listens on loopback unless told otherwise, because the
endpoint has no authentication. Used by agent.config.schema.AgentConfig."""

from __future__ import annotations

import ipaddress

from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_METRICS_PORT = 9842


class MetricsConfig(BaseModel):
    """Same settings as schema.StrictModel; a base of its own because schema imports this module."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        default=False,
        description="Serve Prometheus metrics over HTTP (needs the optional dependency: pip install "
        "'edge-vision-agent[metrics]').",
    )
    bind_address: str = Field(
        default="127.0.0.1",
        description="IP address the endpoint listens on. The endpoint has no authentication: keep loopback "
        "unless the network is trusted; 0.0.0.0 or :: listens on every interface.",
    )
    port: int = Field(
        default=DEFAULT_METRICS_PORT,
        ge=0,
        le=65535,
        description="TCP port of the endpoint (GET /metrics); 0 picks a free port and logs it.",
    )

    @field_validator("bind_address")
    @classmethod
    def _ip_literal(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError as exc:
            raise ValueError(f"bind_address must be an IPv4 or IPv6 address such as 127.0.0.1, got {value!r}") from exc
        return value
