"""The connection flags every client-side command shares (`usage`, `admin …`, `alerts`): the
target, TLS and token flags, the channel, bearer metadata, error reporting, and subjects as
request messages."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc

from quota_sidecar.domain.errors import InvalidInput
from quota_sidecar.domain.models import Subject
from quota_sidecar.v1 import types_pb2

__all__ = [
    "DEFAULT_TARGET",
    "call",
    "channel_for",
    "connection_flags",
    "run_remote",
    "subject_proto",
]

DEFAULT_TARGET = "127.0.0.1:50051"


# --- connection ------------------------------------------------------------------------------
def connection_flags(parser: argparse.ArgumentParser, token_env: str) -> None:
    parser.add_argument(
        "--target",
        default=os.environ.get("QUOTA_SIDECAR_TARGET", DEFAULT_TARGET),
        help="host:port of the sidecar [env QUOTA_SIDECAR_TARGET; default %(default)s]",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get(token_env),
        help=f"bearer token [env {token_env}]",
    )
    parser.add_argument("--tls", action="store_true", help="connect with TLS (system roots)")
    parser.add_argument("--tls-ca", type=Path, help="CA (PEM) of the server; implies --tls")
    parser.add_argument("--tls-cert", type=Path, help="client certificate (PEM) for mTLS")
    parser.add_argument("--tls-key", type=Path, help="client key (PEM) for mTLS")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per call")


def channel_for(args: argparse.Namespace) -> grpc.Channel:
    if args.tls or args.tls_ca or args.tls_cert:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=args.tls_ca.read_bytes() if args.tls_ca else None,
            private_key=args.tls_key.read_bytes() if args.tls_key else None,
            certificate_chain=args.tls_cert.read_bytes() if args.tls_cert else None,
        )
        return grpc.secure_channel(args.target, credentials)
    return grpc.insecure_channel(args.target)


def call(args: argparse.Namespace, method: Callable[..., Any], request: Any) -> Any:
    metadata = [("authorization", f"Bearer {args.token}")] if args.token else None
    return method(request, timeout=args.timeout, metadata=metadata)


def run_remote(action: Callable[[argparse.Namespace, grpc.Channel], int]) -> Callable[..., int]:
    def run(args: argparse.Namespace) -> int:
        try:
            with channel_for(args) as channel:
                return action(args, channel)
        except grpc.RpcError as exc:
            print(f"error: {exc.code().name}: {exc.details()}", file=sys.stderr)
            return 1
        except InvalidInput as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1

    return run


def subject_proto(text: str) -> types_pb2.Subject:
    subject = Subject.parse(text)
    return types_pb2.Subject(
        scope=types_pb2.Scope.Value("SCOPE_" + subject.scope.value.upper()),
        identifier=subject.identifier,
    )
