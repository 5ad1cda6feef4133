"""The domain: the values every layer speaks. Subjects and quota configs (`models`), check and
usage results (`results`), exact money in integer nanos (`money`), quota periods and their
zones (`periods`), the injectable clock (`clock`), the error tree (`errors`), field rules
(`validation`), durations, timestamps, usage history types and alert filters.

Owns no I/O. May import only the standard library and itself: never a layer of quota_sidecar
(store, engine, alerting, server, client, wire, cli), never `config/`, `pricing/` or tracing,
and never a driver (redis, grpc, protobuf, yaml). `make lint` holds it to that.
"""
