"""Helpers of the Envoy RLS tests: requests built with xds-protos, a sidecar with a quota file."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
from envoy.extensions.common.ratelimit.v3 import ratelimit_pb2
from envoy.service.ratelimit.v3 import rls_pb2, rls_pb2_grpc
from google.protobuf import json_format, wrappers_pb2

from quota_sidecar.server.app import Sidecar
from tests.support.sidecar import running_sidecar

Response = rls_pb2.RateLimitResponse
OK = Response.Code.OK
OVER_LIMIT = Response.Code.OVER_LIMIT
MINUTE = Response.RateLimit.Unit.MINUTE

GATEWAY = """
gateways:
  envoy:
    shadow_mode: {shadow}
    domains:
      - domain: agents
        descriptors:
          - {{key: user_id, scope: user}}
          - {{key: x-tool, scope: tool}}
          - {{key: model, scope: model, identifier: "openai/{{value}}"}}
          - {{key: generic_key, value: gateway, scope: global, identifier: all}}
      - domain: llm-tokens
        hits: tokens
        descriptors:
          - {{key: user_id, scope: user}}
"""


def descriptor(*entries: tuple[str, str], hits: int | None = None) -> Any:
    built = ratelimit_pb2.RateLimitDescriptor(
        entries=[ratelimit_pb2.RateLimitDescriptor.Entry(key=k, value=v) for k, v in entries]
    )
    if hits is not None:
        built.hits_addend.CopyFrom(wrappers_pb2.UInt64Value(value=hits))
    return built


def request(*descriptors: Any, domain: str = "agents", hits: int = 0) -> Any:
    return rls_pb2.RateLimitRequest(domain=domain, descriptors=descriptors, hits_addend=hits)


def headers(response: Any) -> dict[str, str]:
    return {h.key: h.value for h in response.response_headers_to_add}


def metadata(response: Any) -> dict[str, Any]:
    found: dict[str, Any] = json_format.MessageToDict(response.dynamic_metadata)
    return found


def write_quota_file(path: Path, quotas: str, *, shadow: bool = False) -> Path:
    path.write_text(quotas + GATEWAY.format(shadow=str(shadow).lower()))
    return path


@contextlib.asynccontextmanager
async def envoy_sidecar(
    redis_url: str, config: Path, **options: Any
) -> AsyncIterator[tuple[Sidecar, Any]]:
    """A sidecar serving `config`, and a RateLimitServiceStub (xds-protos) on its port."""
    async with (
        running_sidecar(redis_url, config_path=config, **options) as sidecar,
        grpc.aio.insecure_channel(sidecar.target) as channel,
    ):
        yield sidecar, rls_pb2_grpc.RateLimitServiceStub(channel)
