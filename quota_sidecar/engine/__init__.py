"""The quota engine: the QuotaService facade over rate limits, costs, configs, overrides and the
cluster path. May import `alerting`, `store` and the domain; knows nothing of protobuf, gRPC,
the server or the client.
"""
