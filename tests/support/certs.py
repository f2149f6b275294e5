"""A throwaway PKI for TLS tests, made with the openssl CLI: a CA, a server and a client certificate.

The server certificate names only DNS:localhost, so connecting to 127.0.0.1 with hostname
verification on must fail while connecting to localhost succeeds."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

DAYS = "2"
CURVE = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


@dataclass(frozen=True)
class Pki:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def openssl_binary() -> str:
    found = shutil.which("openssl")
    if found is None:
        message = "openssl CLI not found (apt-get install openssl)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def _run(*args: str, cwd: Path) -> None:
    result = subprocess.run([openssl_binary(), *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args[:2])} failed: {result.stderr.strip()}")


def _issue(directory: Path, name: str, subject: str, extensions: str) -> tuple[Path, Path]:
    (directory / f"{name}.ext").write_text(extensions)
    _run("req", *CURVE, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject, cwd=directory)
    _run(
        "x509",
        "-req",
        "-in",
        f"{name}.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        f"{name}.pem",
        "-days",
        DAYS,
        "-sha256",
        "-extfile",
        f"{name}.ext",
        cwd=directory,
    )
    return directory / f"{name}.pem", directory / f"{name}.key"


def make_pki(directory: Path, server_dns: str = "localhost") -> Pki:
    """Create ca.pem, server.pem/key (SAN DNS:`server_dns` only) and client.pem/key in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    _run(
        "req",
        "-x509",
        *CURVE,
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        DAYS,
        "-subj",
        "/CN=edge-test-ca",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )
    common = "basicConstraints=CA:FALSE\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n"
    server_cert, server_key = _issue(
        directory,
        "server",
        f"/CN={server_dns}",
        common + f"subjectAltName=DNS:{server_dns}\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    client_cert, client_key = _issue(
        directory, "client", "/CN=edge-test-client", common + "keyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n"
    )
    return Pki(directory / "ca.pem", server_cert, server_key, client_cert, client_key)
