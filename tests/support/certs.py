"""Test certificates made with the openssl command: a CA, a server certificate for
127.0.0.1/localhost and a client certificate, for the TLS and mutual-TLS tests."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.support import processes


def make_test_certs(folder: Path) -> None:
    """Write ca.pem, server.pem/.key and client.pem/.key into `folder`."""
    openssl = shutil.which("openssl")
    # A missing tool is a broken test machine, not a reason to pass without testing TLS.
    assert openssl, "the TLS tests need the openssl command (apt-get install openssl)"

    def run(*args: str) -> None:
        processes.run([openssl, *args], cwd=folder, check=True, capture_output=True, timeout=60)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
        "-keyout", "ca.key", "-out", "ca.pem")  # fmt: skip
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name in ("server", "client"):
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
            "-keyout", f"{name}.key", "-out", f"{name}.csr")  # fmt: skip
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "san.ext",
            "-out", f"{name}.pem")  # fmt: skip
