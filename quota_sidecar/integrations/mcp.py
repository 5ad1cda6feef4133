"""Quotas for an MCP server built with the `mcp` SDK (`pip install 'quota-sidecar[mcp]'`).

    server = MCPServer("tools")
    @server.tool()
    def search(query: str) -> str: ...
    guard_mcp_server(server, client, tool_costs={"search": "0.01"})

Every tools/call is checked before the tool runs, per calling user and tool (a reserving check
on user:<caller> and tool:<name>, so their rate limits, budgets and concurrency apply), and
recorded after it (its cost from `tool_costs`, or 0: the call is still counted). A denial
answers with the protocol's error result (CallToolResult with is_error set) whose text is the
denial's reason, and the tool does not run; a tool that fails has its hold released. The
caller is `user_of(context)`: by default the request's `_meta.user_id`, else the
authenticated client's id, else "anonymous".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, TextContent

from quota_sidecar.client.guard import QuotaApi, QuotaGuard
from quota_sidecar.domain.errors import QuotaExceeded
from quota_sidecar.domain.money import Money

__all__ = ["caller_from_meta", "guard_mcp_server"]

ANONYMOUS = "anonymous"


def caller_from_meta(context: Context[Any] | None) -> str:
    """The calling user: `_meta.user_id` of the request, else the client id, else anonymous."""
    if context is None:
        return ANONYMOUS
    try:
        request = context.request_context
    except (ValueError, AttributeError):
        return ANONYMOUS
    meta: Any = request.meta
    found = meta.get("user_id") if isinstance(meta, Mapping) else getattr(meta, "user_id", None)
    if found:
        return str(found)
    client_id = getattr(context, "client_id", None)
    return str(client_id) if client_id else ANONYMOUS


def guard_mcp_server(
    server: MCPServer,
    api: QuotaApi,
    *,
    tool_costs: Mapping[str, Money] | None = None,
    user_of: Callable[[Context[Any] | None], str] = caller_from_meta,
) -> MCPServer:
    """Check and record every tool call of `server` (see the module docstring); returns it."""
    costs = dict(tool_costs or {})
    call_tool = server.call_tool

    async def guarded(
        name: str, arguments: dict[str, Any], context: Context[Any] | None = None
    ) -> Any:
        cost = costs.get(name, 0)
        guard = QuotaGuard(api, user_id=user_of(context), tool_name=name, estimated_cost=cost)
        try:
            await guard.__aenter__()
        except QuotaExceeded as denied:
            wait = f" (retry after {denied.retry_after})" if denied.retry_after else ""
            text = f"quota exceeded [{denied.code}]: {denied.reason}{wait}"
            return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
        try:
            result = await call_tool(name, arguments, context)
        except BaseException as exc:
            await guard.__aexit__(type(exc), exc, exc.__traceback__)  # releases the hold
            raise
        await guard.record(cost=cost)
        return result

    server.call_tool = guarded  # type: ignore[method-assign]
    return server
