"""Resolves broker credentials: the password (inline, file or systemd credential) and the TLS context.

Called by the publisher at start-up (caller's thread) and again after the broker rejects
the credentials, so a fixed password file is picked up without a restart. The password
itself never appears in an error message or a log line."""

from __future__ import annotations

import os
import ssl
from pathlib import Path

from agent.config.schema import MqttConfig, TlsConfig
from agent.errors import PublishError

CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"
MAX_SECRET_BYTES = 64 * 1024


def resolve_password(cfg: MqttConfig, credentials_dir: Path | None = None) -> str | None:
    """The password to send, or None. `credentials_dir` defaults to $CREDENTIALS_DIRECTORY."""
    if cfg.password is not None:
        secret: str | None = cfg.password
    elif cfg.password_file is not None:
        secret = read_first_line(cfg.password_file, "mqtt.password_file")
    elif cfg.password_credential is not None:
        secret = _read_credential(cfg.password_credential, credentials_dir)
    else:
        secret = None
    if secret is not None and cfg.username is None:
        raise PublishError("a broker password is configured but mqtt.username is not; set mqtt.username too")
    return secret


def _read_credential(name: str, credentials_dir: Path | None) -> str:
    if not name or "/" in name or name in (".", ".."):
        raise PublishError(f"mqtt.password_credential {name!r} must be a plain credential name, not a path")
    if credentials_dir is None:
        env = os.environ.get(CREDENTIALS_ENV)
        if not env:
            raise PublishError(
                f"mqtt.password_credential is {name!r} but ${CREDENTIALS_ENV} is not set; run under systemd with "
                f"LoadCredential={name}:/path/to/secret (or use mqtt.password_file)"
            )
        credentials_dir = Path(env)
    return read_first_line(credentials_dir / name, "mqtt.password_credential")


def read_first_line(path: Path, field: str) -> str:
    """The first line of a secret file without its line ending; PublishError naming `field` if unusable."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_SECRET_BYTES)
    except OSError as exc:
        raise PublishError(f"{field}: cannot read {path}: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PublishError(f"{field}: {path} is not UTF-8 text") from exc
    lines = text.splitlines()
    first = lines[0] if lines else ""
    if not first:
        raise PublishError(f"{field}: the first line of {path} is empty; it must hold the password")
    return first


def build_tls_context(tls: TlsConfig) -> ssl.SSLContext:
    """A client TLS context from the config; PublishError naming the field whose file is unusable."""
    for field, path in (("ca_file", tls.ca_file), ("cert_file", tls.cert_file), ("key_file", tls.key_file)):
        if path is not None and not path.is_file():
            raise PublishError(f"mqtt.tls.{field}: {path} does not exist or is not a file")
    try:
        context = ssl.create_default_context(cafile=str(tls.ca_file) if tls.ca_file is not None else None)
    except (OSError, ssl.SSLError) as exc:
        raise PublishError(f"mqtt.tls.ca_file: cannot load CA certificates from {tls.ca_file}: {exc}") from exc
    if tls.cert_file is not None and tls.key_file is not None:
        try:
            context.load_cert_chain(certfile=str(tls.cert_file), keyfile=str(tls.key_file))
        except (OSError, ssl.SSLError) as exc:
            raise PublishError(
                f"mqtt.tls.cert_file/key_file: cannot load the client certificate {tls.cert_file} "
                f"with key {tls.key_file}: {exc}"
            ) from exc
    context.check_hostname = tls.verify_hostname
    return context
