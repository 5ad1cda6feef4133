"""quota-sidecar: rate limits and cost quotas for LLM agents, over gRPC, on Redis."""

from __future__ import annotations

__all__: list[str] = []
