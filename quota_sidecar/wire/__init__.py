"""The wire: every translation between the v1 contract (protobuf, quota_sidecar.v1) and the
domain types, in both directions, shared by the server's servicers, the client and the CLI.
Imports only the domain and quota_sidecar.v1; never the engine, the store, alerting, the
server, the client or the CLI.
"""
