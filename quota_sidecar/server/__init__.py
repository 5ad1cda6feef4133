"""The gRPC server, kept thin: the servicers (proto in and out through `wire`, every decision
in the engine), auth, interceptors, metrics, the quota-file watcher and the app that runs them.
May import `wire`, `engine`, `alerting`, `store` and the domain; never `client` or `cli`.
"""
