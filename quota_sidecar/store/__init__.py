"""The store: Redis connections and their states, the key schema, the Lua scripts (one round
trip per operation) and the embedded Redis. The bottom layer: imports only the domain, and
knows nothing of gRPC or protobuf.
"""
