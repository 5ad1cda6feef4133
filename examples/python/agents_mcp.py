"""An MCP server whose tool calls are checked and recorded per user and tool (docs/agents.md).
Over the SDK's in-memory transport; run: python examples/python/agents_mcp.py
"""

from __future__ import annotations

import asyncio
import os
from decimal import Decimal

from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.types import TextContent

from quota_sidecar.domain.models import CostQuota, QuotaConfig, QuotaScope
from quota_sidecar.engine.service import QuotaService
from quota_sidecar.integrations.mcp import guard_mcp_server

server = MCPServer("tools")


@server.tool()
def search(query: str) -> str:
    """A paid search: $0.40 a call."""
    return f"results for {query}"


async def main(redis_url: str | None = None) -> list[str]:
    quota = QuotaService(redis_url)  # or QuotaClient("127.0.0.1:50051", token=...)
    await quota.register_quota(
        QuotaConfig(QuotaScope.USER, "carol", cost_quota=CostQuota(daily_limit=Decimal("1")))
    )
    guard_mcp_server(server, quota, tool_costs={"search": Decimal("0.40")})
    answers = []
    async with Client(server) as client:
        for query in ("a", "b", "c"):  # the third does not fit in carol's $1.00 a day
            result = await client.call_tool("search", {"query": query}, meta={"user_id": "carol"})
            first = result.content[0]
            text = first.text if isinstance(first, TextContent) else ""
            answers.append(("error: " if result.is_error else "") + text)
    await quota.close()
    for line in answers:
        print(line)
    return answers


if __name__ == "__main__":
    asyncio.run(main(os.environ.get("QUOTA_SIDECAR_REDIS_URL")))
