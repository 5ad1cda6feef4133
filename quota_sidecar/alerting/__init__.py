"""Alerts: the shared stream format, live delivery (hub), handlers, webhooks and override
expiry. May import `store` and the domain; knows nothing of protobuf or gRPC (their proto
form is in `wire.alerts`, the `alerts` command in `cli.alerts`).
"""
