"""Which Dask scheduler a batch may use, and with which certificates.

A Dask scheduler runs whatever a connected client sends on every worker, and the workers hold the course's
rubric and reference. So the batch only talks to a scheduler over mutual TLS (`tls://`, certificates through
Dask's own `Security`), or over plain `tcp://` when every address the host name resolves to is on the loopback
(the scheduler is on this machine and reachable from nowhere else). Any other `tcp://` address is refused
unless the tutor passes `--insecure` knowingly.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


class ClusterAddressError(ValueError):
    """A scheduler address or certificate setting the batch refuses; the message says why and what to do."""


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for mutual TLS: the course's certificate authority, and this client's certificate and key."""

    ca_file: Path
    cert_file: Path
    key_file: Path | None = None  # None: the key is in cert_file


@dataclass(frozen=True)
class ClusterOptions:
    """How `grader grade --scheduler ADDRESS` reaches the cluster."""

    address: str
    tls: TlsFiles | None = None
    insecure: bool = False  # allow tcp:// to a host that is not the loopback
    connect_timeout: float = 20.0  # seconds to reach the scheduler at the start
    # The scheduler's Security object for tests (Security.temporary()); the CLI gives files instead.
    security: object | None = None


def check_address(options: ClusterOptions) -> str:
    """The scheme of an acceptable address ('tls' or 'tcp'); raises ClusterAddressError otherwise."""
    address = options.address.strip()
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    scheme, host = parts.scheme, parts.hostname
    if scheme not in ("tcp", "tls"):
        raise ClusterAddressError(f"--scheduler {address}: give a tls://HOST:PORT or tcp://HOST:PORT address "
                                  f"(not {scheme}://)")
    if not host:
        raise ClusterAddressError(f"--scheduler {address}: no host in the address (e.g. tls://grading-head:8786)")
    try:
        port = parts.port
    except ValueError:
        raise ClusterAddressError(f"--scheduler {address}: the port is not a number") from None
    if port is None:
        raise ClusterAddressError(f"--scheduler {address}: no port in the address (the scheduler's default is "
                                  f"{host}:8786)")
    if scheme == "tls":
        if options.tls is None and options.security is None:
            raise ClusterAddressError(f"--scheduler {address}: a tls:// scheduler needs this client's certificate: "
                                      "--tls-ca-file, --tls-cert and --tls-key (or GRADER_TLS_CA_FILE, "
                                      "GRADER_TLS_CERT, GRADER_TLS_KEY); see docs/cluster.md")
        if options.tls is not None:
            for label, path in (("--tls-ca-file", options.tls.ca_file), ("--tls-cert", options.tls.cert_file),
                                ("--tls-key", options.tls.key_file)):
                if path is not None and not Path(path).is_file():
                    raise ClusterAddressError(f"{label} {path}: no such file")
        return scheme
    if not options.insecure and not is_loopback(host):
        raise ClusterAddressError(
            f"--scheduler {address}: refusing plain tcp:// to a host other than this machine's loopback: anyone "
            "who can reach that scheduler can run code on every worker, which holds the rubric and the reference. "
            "Use tls:// with certificates (docs/cluster.md), or pass --insecure if the network is really private.")
    return scheme


def is_loopback(host: str) -> bool:
    """True when every address `host` stands for is a loopback address (127.0.0.0/8, ::1)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, None)
    except OSError:
        return False
    addresses = {info[4][0] for info in found}
    return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)


def client_security(options: ClusterOptions):
    """Dask's Security for the client: mutual TLS with the given files, or the test's own object, or None."""
    if options.security is not None:
        return options.security
    if options.tls is None:
        return None
    from distributed.security import Security

    return Security(tls_ca_file=str(options.tls.ca_file), tls_client_cert=str(options.tls.cert_file),
                    tls_client_key=str(options.tls.key_file) if options.tls.key_file else None,
                    require_encryption=True)
