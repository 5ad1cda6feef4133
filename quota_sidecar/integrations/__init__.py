"""Hard budgets inside the agent frameworks people use (docs/agents.md).

One module per framework, each an optional extra; importing this package imports none of them:

    quota_sidecar.integrations.openai_agents   pip install 'quota-sidecar[openai-agents]'
    quota_sidecar.integrations.langchain       pip install 'quota-sidecar[langchain]'
    quota_sidecar.integrations.mcp             pip install 'quota-sidecar[mcp]'

Each works with the remote client (quota_sidecar.client.QuotaClient) or the in-process engine
(QuotaService): anything with the QuotaApi. The shared bookkeeping is in `budget`. May import
the client and the domain (and its framework's SDK); never the engine, the store or the server.
"""

from __future__ import annotations

from quota_sidecar.integrations.budget import AgentBudget, BudgetLedger, BudgetStop

__all__ = ["AgentBudget", "BudgetLedger", "BudgetStop"]
