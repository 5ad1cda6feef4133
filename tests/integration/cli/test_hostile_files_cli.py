"""Issue 20 at the command line (the CLI as a subprocess): a hostile quota file makes `serve`
print `quota-sidecar: FILE:LINE: field: problem` and exit 2, and `validate` print
`invalid: FILE:LINE: field: problem`, never a traceback; the CLI's instants are strict ISO-8601."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.sidecar import SidecarProcess
from tests.unit.config.test_config_hostile import alias_bomb

ALICE = "quotas:\n  - scope: user\n    identifier: alice\n"
BIG = "9" * 5000
ENV = {"QUOTA_SIDECAR_LOG_FORMAT": "text"}

HOSTILE = {
    "huge-int-rate": ALICE + f"    rate_limits: {{requests_per_minute: {BIG}}}\n",
    "huge-int-identifier": f"quotas:\n  - scope: user\n    identifier: {BIG}\n",
    "huge-hex-identifier": "quotas:\n  - scope: user\n    identifier: 0x" + "f" * 5000 + "\n",
    "huge-int-threshold": ALICE + f"    alert_thresholds: [{BIG}]\n",
    "huge-int-run-template": f"runs:\n  default: {{max_cost: 1, max_requests: {BIG}}}\n" + ALICE,
    "huge-int-webhook": f"webhooks:\n  - name: x\n    url: http://x\n    max_attempts: {BIG}\n"
    + ALICE,
    "python-tag": ALICE + "    description: !!python/object/apply:os.system ['echo hi']\n",
    "python-tag-webhooks": "webhooks: !!python/object/apply:os.system ['echo hi']\n" + ALICE,
    "unknown-tag": ALICE + "    rate_limits: {requests_per_minute: !custom 3}\n",
    "unknown-tag-on-a-mapping": ALICE + "    rate_limits: !custom {requests_per_minute: 3}\n",
    "bad-timestamp": ALICE + "    description: !!timestamp 2026-99-99\n",
    "escape-past-unicode": ALICE + '    description: "\\U0011ffff"\n',
    "list-as-key": ALICE + "    rate_limits: {[1, 2]: 3}\n",
    "float-1e400": ALICE + "    cost_quota: {reset_hour: 1.0e+400}\n",
    "deep-nesting": ALICE + "    alert_thresholds: " + "[" * 3000 + "]" * 3000 + "\n",
    "alias-bomb": alias_bomb(),
}
# `file:LINE: field: problem`, one line, with a field that names a place in the file.
CLEAN = r"{path}:\d+: [A-Za-z_(][\w\[\]. ()<>-]*: \S"


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quota_sidecar", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **ENV},
        check=False,
    )


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "quotas.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text", list(HOSTILE.values()), ids=list(HOSTILE))
def test_validate_names_the_line_and_field_of_a_hostile_file(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path, text)
    done = _cli("validate", str(path))
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1, done.stderr
    assert re.fullmatch(
        "invalid: " + CLEAN.format(path=re.escape(str(path))) + r".*\n", done.stderr
    )
    assert len(done.stderr) < 400


@pytest.mark.parametrize(
    "name",
    ["huge-int-rate", "python-tag", "huge-int-webhook", "python-tag-webhooks", "list-as-key"],
)
def test_serve_refuses_a_hostile_file_with_exit_2_and_the_line(
    redis_url: str, tmp_path: Path, name: str
) -> None:
    path = _write(tmp_path, HOSTILE[name])
    process = SidecarProcess("--redis-url", redis_url, "--config", str(path), env=ENV)
    with pytest.raises(RuntimeError, match="exited early"):
        process.start()
    assert process.process is not None and process.process.wait(timeout=10) == 2
    output = process.output()
    process.__exit__()
    assert "Traceback" not in output, output
    last = output.strip().splitlines()[-1]
    assert re.fullmatch("quota-sidecar: " + CLEAN.format(path=re.escape(str(path))) + ".*", last)


@pytest.mark.parametrize(
    "until", ["2026-W49-1", "2026-12-01T10:00:00.1234567Z", "2026-12-01X10:00", "20261201T1000Z"]
)
def test_admin_grant_until_is_a_strict_instant(until: str) -> None:
    done = _cli(
        "admin", "grant", "user:alice", "--kind", "block", "--reason", "r", "--actor", "ops",
        "--until", until, "--target", "127.0.0.1:1", "--token", "t",
    )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("error: --until: is not an ISO-8601 instant"), done.stderr


@pytest.mark.parametrize("at", ["2026-W27-1T00:00Z", "2026-07-01 00:00:00+0000", "2026-07-01Z"])
def test_prices_at_is_a_strict_instant(at: str) -> None:
    done = _cli("prices", "show", "openai/gpt-4o", "--at", at)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("--at: is not an ISO-8601 instant"), done.stderr


@pytest.mark.parametrize("effective", ["'2026-W27-1T00:00:00Z'", "2026-7-1 0:00:00Z"])
def test_a_price_files_effective_from_is_a_strict_instant(tmp_path: Path, effective: str) -> None:
    path = _write(
        tmp_path,
        "prices:\n  - provider: acme\n    model: m1\n    input: 1\n"
        f"    effective_from: {effective}\n",
    )
    done = _cli("validate", str(path))
    assert done.returncode == 1, done.stderr
    assert f"{path}:5: prices[0].effective_from: is not an ISO-8601 instant" in done.stderr
