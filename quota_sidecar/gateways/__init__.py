"""Gateway protocols on the same engine: each adapter translates a gateway's rate limit
request into one check of the subjects its descriptors map to (the quota file's `gateways:`
section, quota_sidecar.config.gateways), and the check's result back into the gateway's reply.
Adapters translate only; the servicers in quota_sidecar.server call the engine. May import the
domain, config/ and Envoy's generated code (xds-protos); never the engine, store, wire or gRPC.
"""
