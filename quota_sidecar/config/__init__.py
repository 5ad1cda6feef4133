"""The quota file (YAML): parsed and checked into QuotaConfig values, refusing hostile files
(the bounded YAML loader). Beside the domain, on a contract of its own: may import the domain,
PyYAML and the price book's parser of its `prices:` section (pricing/), never a layer; the
server's watcher and the CLI's validate and admin commands use it.
"""

from __future__ import annotations

from quota_sidecar.config.bounded_yaml import MAX_NODES
from quota_sidecar.config.gateways import (
    DescriptorMapping,
    EnvoyDomain,
    EnvoyGateway,
    GatewaysConfig,
    HitsUnit,
)
from quota_sidecar.config.quota_file import (
    CONFIG_ACTOR,
    MAX_FILE_BYTES,
    QuotaDocument,
    load_quota_document,
    load_quota_file,
    parse_quota_document,
    parse_quota_text,
)
from quota_sidecar.config.run_templates import DEFAULT_TENANT, RunLimits

__all__ = [
    "CONFIG_ACTOR",
    "DEFAULT_TENANT",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "DescriptorMapping",
    "EnvoyDomain",
    "EnvoyGateway",
    "GatewaysConfig",
    "HitsUnit",
    "QuotaDocument",
    "RunLimits",
    "load_quota_document",
    "load_quota_file",
    "parse_quota_document",
    "parse_quota_text",
]
