"""An MCP server (the `mcp` SDK's MCPServer) with every tool call checked and recorded per
calling user and tool, over the SDK's in-memory transport."""

from __future__ import annotations

from decimal import Decimal

import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.types import TextContent

from quota_sidecar.domain.models import QuotaConfig, QuotaScope, RateLimitConfig, Subject
from quota_sidecar.engine.service import QuotaService
from quota_sidecar.integrations.mcp import guard_mcp_server

pytestmark = pytest.mark.timeout(60)


def tools_server(engine: QuotaService) -> MCPServer:
    server = MCPServer("tools")

    @server.tool()
    def search(query: str) -> str:
        """Search."""
        return f"results for {query}"

    @server.tool()
    def broken(query: str) -> str:
        """Always fails."""
        raise RuntimeError("upstream is down")

    return guard_mcp_server(server, engine, tool_costs={"search": Decimal("0.01")})


async def test_each_call_is_counted_per_user_and_tool_and_a_denial_is_an_error_result(
    engine: QuotaService, user_id: str
) -> None:
    await engine.register_quota(
        QuotaConfig(QuotaScope.TOOL, "search", rate_limits=RateLimitConfig(requests_per_minute=3))
    )
    async with Client(tools_server(engine)) as client:
        for i in range(3):
            ok = await client.call_tool("search", {"query": f"q{i}"}, meta={"user_id": user_id})
            assert not ok.is_error
        denied = await client.call_tool("search", {"query": "q4"}, meta={"user_id": user_id})
        assert denied.is_error
        assert isinstance(denied.content[0], TextContent)
        assert "quota exceeded [RATE_LIMITED]" in denied.content[0].text
        assert "requests per minute limit of tool:search" in denied.content[0].text
        failed = await client.call_tool("broken", {"query": "x"}, meta={"user_id": user_id})
        assert failed.is_error
    user = await engine.get_usage(Subject(QuotaScope.USER, user_id))
    assert user.cost_today_nanos == 30_000_000  # three searches at $0.01; the denial is free
    assert user.held_nanos == 0
    assert [(e.name, e.requests) for e in user.by_tool_today] == [("search", 3)]
