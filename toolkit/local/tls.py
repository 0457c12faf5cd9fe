"""A certificate authority made at start-up, for the local stack's HTTPS servers.

AWS's HTTP Task calls HTTPS endpoints only, so the local sample API serves TLS too. Its
certificate comes from a throwaway CA made in memory by ``trustme`` when the stack starts; the
CA's PEM is written where the stack's HTTP Task and the toolkit read it (``DSA_SAMPLE_API_CA``).
Nothing here is meant for anything but loopback.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path

import trustme

__all__ = ["LocalCa", "LOOPBACK_NAMES", "SAMPLE_API_CA_ENV", "sample_api_context"]

# The names a loopback server may be reached by; the certificate covers all of them.
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
# Where clients outside the stack's process find the sample API's CA (PEM path).
SAMPLE_API_CA_ENV = "DSA_SAMPLE_API_CA"


def sample_api_context(ca_file: Path | str | None) -> ssl.SSLContext | None:
    """A verifying client context trusting ``ca_file`` (None without one: the system's CAs)."""
    return ssl.create_default_context(cafile=str(ca_file)) if ca_file else None


@dataclass
class LocalCa:
    """A CA of our own and one server certificate it issued for the loopback names."""

    _ca: trustme.CA = field(default_factory=trustme.CA, repr=False)

    @property
    def pem(self) -> bytes:
        """The CA certificate (PEM): what a client trusts."""
        return self._ca.cert_pem.bytes()

    def write_pem(self, path: Path) -> Path:
        """Write the CA certificate to ``path`` (creating its directory); return the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.pem)
        return path

    def server_context(self, hosts: tuple[str, ...] = LOOPBACK_NAMES) -> ssl.SSLContext:
        """A server-side TLS context with a certificate for ``hosts`` signed by this CA."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ca.issue_cert(*hosts).configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts this CA (and the system's CAs)."""
        context = ssl.create_default_context()
        context.load_verify_locations(cadata=self.pem.decode())
        return context
