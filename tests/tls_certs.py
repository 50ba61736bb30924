"""Certificates for the TLS tests: a trustme CA and what it issues, plus certificates
built with ``cryptography`` where a CA cannot help (a self-signed one).

``make_certs(directory)`` writes them once per test session (the ``tls_certs`` fixture
in tests/conftest.py); each is a PEM file holding the key and the chain, so one path
serves as ``--cert``/``--tls-cert`` alone.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["Certs", "make_certs"]

#: The names every good server certificate is for.
HOSTS = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class Certs:
    #: The trusted test CA (PEM).
    ca: Path
    #: Server certificates (key + chain): good, past notAfter, before notBefore.
    good: Path
    expired: Path
    not_yet_valid: Path
    #: Issued by another CA nobody trusts.
    unknown_ca: Path
    #: Self-signed, for localhost.
    self_signed: Path
    #: A client certificate from the test CA, and one from the other CA.
    client: Path
    client_unknown_ca: Path
    #: The other CA (PEM), to trust on purpose.
    other_ca: Path


def make_certs(directory: Path) -> Certs:
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="framewire tests")
    other = trustme.CA(organization_name="somebody else")
    now = datetime.datetime.now(datetime.UTC)
    day = datetime.timedelta(days=1)

    def write(name: str, blob: trustme.Blob) -> Path:
        path = directory / f"{name}.pem"
        blob.write_to_path(str(path))
        return path

    def leaf(name: str, issuer: trustme.CA, *names: str, **options: Any) -> Path:
        cert = issuer.issue_cert(*names, **options)
        return write(name, cert.private_key_and_cert_chain_pem)

    return Certs(
        ca=write("ca", ca.cert_pem),
        other_ca=write("other-ca", other.cert_pem),
        good=leaf("good", ca, *HOSTS, common_name="localhost"),
        expired=leaf("expired", ca, *HOSTS, not_before=now - 30 * day, not_after=now - day),
        not_yet_valid=leaf(
            "not-yet-valid", ca, *HOSTS, not_before=now + day, not_after=now + 30 * day
        ),
        unknown_ca=leaf("unknown-ca", other, *HOSTS),
        self_signed=_self_signed(directory / "self-signed.pem", now),
        client=leaf("client", ca, "client@framewire.test", common_name="framewire test client"),
        client_unknown_ca=leaf("client-unknown-ca", other, "intruder@framewire.test"),
    )


def _self_signed(path: Path, now: datetime.datetime) -> Path:
    """A self-signed server certificate for localhost, built with ``cryptography``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(key_pem + cert.public_bytes(serialization.Encoding.PEM))
    return path
