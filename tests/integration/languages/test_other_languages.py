"""The contract in every language the machine builds: C++, Go, Java and Ruby clients, for real.

Each examples/<lang>/build.sh generates its stubs with scripts/gen_stubs.sh (what `make stubs`
runs) and builds the smoke client with Debian's toolchain; .ci/run installs the toolchains
(scripts/ci_install_toolchains.sh). A missing toolchain fails here with that hint: a language is
never skipped. Builds are cached in pytest's cache, keyed by everything they are made from.

Every client runs against a real `python -m quota_sidecar serve` subprocess and checks each step
itself (exit 1 with a message at the first surprise); this test checks its exit code and the
transcript it prints, which is the same in every language.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path

import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from quota_sidecar.v1 import admin_pb2, quota_pb2, types_pb2
from tests.support import processes
from tests.support.sidecar import ADMIN_TOKEN, SidecarProcess

ROOT = Path(__file__).parents[3]
DATA_TOKEN = "other-languages-data-token"
INSTALL_HINT = "install the toolchains with scripts/ci_install_toolchains.sh (.ci/run does)"
# What each build needs on PATH, and where Debian keeps the libraries it needs besides.
TOOLS = {
    "cpp": ["protoc", "grpc_cpp_plugin", "g++", "pkg-config"],
    "go": ["protoc", "protoc-gen-go", "protoc-gen-go-grpc", "go"],
    "java": ["protoc", "grpc_java_plugin", "javac", "java"],
    "ruby": ["protoc", "grpc_ruby_plugin", "ruby"],
}
LIBRARIES = {
    "go": ["/usr/share/gocode/src/google.golang.org/grpc",
           "/usr/share/gocode/src/github.com/golang/protobuf/proto/wrappers.go"],
    "java": ["/usr/share/java/grpc-netty.jar", "/usr/share/java/protobuf.jar",
             "/usr/share/java/geronimo-annotation-1.3-spec.jar"],
}  # fmt: skip

DAILY_LIMIT = 10_000_000_000  # the quota file's $10; more than an int32 holds
ESTIMATE = 9_000_000_000
COST = 8_500_000_001  # odd on purpose: any rounding on the way would show


def quota_file(path: Path, user: str, tool: str) -> Path:
    path.write_text(
        "quotas:\n"
        f"  - {{scope: user, identifier: {user}, cost_quota: {{daily_limit: 10}},"
        " alert_thresholds: [80]}\n"
        f"  - {{scope: tool, identifier: {tool}, rate_limits: {{requests_per_minute: 1}}}}\n"
    )
    return path


def transcript(tool: str) -> list[str]:
    """What every smoke client prints, step by step, against quota_file()."""
    return [
        f"check allowed=true reservation=yes limit_amount={DAILY_LIMIT} held={ESTIMATE}"
        f" remaining={DAILY_LIMIT - ESTIMATE}",
        "record recorded=true duplicate=false hold_settled=true",
        "retry recorded=false duplicate=true hold_settled=false",
        f"usage cost_today_nanos={COST} held_nanos=0 requests_today=1",
        f"denied allowed=false code=DENIAL_CODE_RATE_LIMITED subject={tool} retry_after=yes",
        "alert kind=ALERT_KIND_THRESHOLD_WARNING limit=LIMIT_KIND_COST_DAILY percent=80"
        f" used={COST} limit_amount={DAILY_LIMIT}",
        "invalid code=INVALID_ARGUMENT names_field=yes",
        "ok",
    ]


def build_key(lang: str) -> str:
    """A digest of everything a build is made from: the protos, the generator, the example."""
    digest = hashlib.sha256()
    sources = [*sorted((ROOT / "protos").rglob("*.proto")), ROOT / "scripts" / "gen_stubs.sh"]
    sources += sorted(p for p in (ROOT / "examples" / lang).rglob("*") if p.is_file())
    for path in sources:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def built_client(lang: str, cache: pytest.Cache) -> Path:
    """examples/<lang>/build.sh into a scratch folder, then moved into the cache; reused after."""
    missing = [tool for tool in TOOLS[lang] if shutil.which(tool) is None]
    missing += [path for path in LIBRARIES.get(lang, []) if not Path(path).exists()]
    assert not missing, f"{lang}: missing {', '.join(missing)}: {INSTALL_HINT}"
    root = cache.mkdir("other-languages")
    final = root / f"{lang}-{build_key(lang)}"
    if (final / "smoke").exists():
        return final / "smoke"
    scratch = root / f"{lang}.building-{uuid.uuid4().hex[:8]}"
    try:
        build = processes.run(  # its compilers end with it, on a timeout too
            ["bash", str(ROOT / "examples" / lang / "build.sh"), str(scratch)],
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert build.returncode == 0, f"{lang} build failed:\n{build.stdout}\n{build.stderr}"
        for stale in root.glob(f"{lang}-*"):
            shutil.rmtree(stale, ignore_errors=True)
        scratch.rename(final)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return final / "smoke"


@pytest.mark.timeout(900)
@pytest.mark.parametrize("lang", sorted(TOOLS))
def test_smoke_client_checks_settles_reads_is_denied_follows_and_is_refused(
    lang: str, redis_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    smoke = built_client(lang, request.config.cache)
    user, tool = f"{lang}-user-{uuid.uuid4().hex[:8]}", f"{lang}-tool-{uuid.uuid4().hex[:8]}"
    config = quota_file(tmp_path / "quotas.yaml", user, tool)
    env = {"QUOTA_SIDECAR_ADMIN_TOKEN": ADMIN_TOKEN, "QUOTA_SIDECAR_DATA_TOKEN": DATA_TOKEN}
    args = ["--redis-url", redis_url, "--data-dir", str(tmp_path / "data"), "--config", str(config)]
    with SidecarProcess(*args, env=env) as sidecar:
        run = processes.run(  # the exit code is asserted below, with what the client said
            [str(smoke), "--target", sidecar.target, "--user", user, "--tool", tool],
            env={**os.environ, "QUOTA_SIDECAR_DATA_TOKEN": DATA_TOKEN},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert sidecar.terminate() == 0, sidecar.output()
    assert run.returncode == 0, f"{lang} client failed:\n{run.stdout}\n{run.stderr}"
    assert run.stdout.splitlines() == transcript(tool), run.stderr


# --- names every generator can use as written -----------------------------------------------
# Accessors that generators derive from a field's name (Java: getXValue() for an enum, getXList()
# and getXCount() for a repeated field, getXBytes() for a string, getXOrBuilder() for a
# message, getXMap() for a map; C++ and Go derive some of the same). Another field with that
# name does not compile in Java: `limit` + `limit_value` did exactly that (15 javac errors).
def derived_names(field: FieldDescriptor) -> set[str]:
    names = set()
    if field.type == FieldDescriptor.TYPE_ENUM:
        names.add(f"{field.name}_value")
    if field.is_repeated:
        names |= {f"{field.name}_list", f"{field.name}_count", f"{field.name}_map"}
    if field.type in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES):
        names.add(f"{field.name}_bytes")
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        names |= {f"{field.name}_builder", f"{field.name}_or_builder"}
    return names


# Names that some generator renames or that collide with methods every generated message has:
# Go (Reset, String, ProtoMessage, ProtoReflect, Descriptor), Ruby (Object and Message methods),
# and words reserved in C++, Java, Go or Ruby.
RESERVED = {
    "reset", "string", "proto_message", "proto_reflect", "descriptor", "class", "hash",
    "method", "methods", "send", "object_id", "freeze", "clone", "dup", "display", "inspect",
    "to_s", "to_h", "to_proto", "to_json", "initialize", "default", "package", "import",
    "interface", "type", "func", "range", "select", "map", "chan", "go", "defer", "fallthrough",
    "struct", "union", "template", "typename", "namespace", "operator", "new", "delete",
    "this", "private", "public", "protected", "static", "final", "native", "synchronized",
    "transient", "volatile", "abstract", "assert", "boolean", "byte", "char", "short", "long",
    "int", "float", "double", "void", "case", "switch", "break", "continue", "return", "if",
    "else", "for", "while", "do", "goto", "const", "var", "true", "false", "null", "nil",
    "self", "super", "begin", "end", "ensure", "rescue", "retry", "yield", "module", "def",
    "undef", "unless", "until", "when", "then", "elsif", "alias", "and", "or", "not", "in",
    "redo", "extern", "register", "signed", "unsigned", "sizeof", "typedef", "auto", "enum",
    "inline", "friend", "virtual", "explicit", "mutable", "throw", "throws", "try", "catch",
    "extends", "implements", "instanceof", "strictfp", "errno", "major", "minor",
}  # fmt: skip


def all_messages() -> list[Descriptor]:
    found: list[Descriptor] = []
    pending = [
        message
        for module in (types_pb2, quota_pb2, admin_pb2)
        for message in module.DESCRIPTOR.message_types_by_name.values()
    ]
    while pending:
        message = pending.pop()
        found.append(message)
        pending.extend(message.nested_types)
    return found


def test_no_field_name_is_one_a_generator_derives_from_another_field() -> None:
    clashes = [
        f"{message.full_name}.{other.name} clashes with what {field.name} generates"
        for message in all_messages()
        for field in message.fields
        for other in message.fields
        if other is not field
        and other.name.replace("_", "") in {n.replace("_", "") for n in derived_names(field)}
    ]
    assert clashes == []


def test_no_field_name_is_reserved_in_a_generated_language() -> None:
    reserved = [
        f"{message.full_name}.{field.name}"
        for message in all_messages()
        for field in message.fields
        if field.name in RESERVED
    ]
    assert reserved == []
