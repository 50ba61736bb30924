"""TLS as the IPC, the CLI and the window speak of it: options, session info, causes.

TLS is a stream layer under the framing (docs/design.md, "Roles and layers"): the engine
wraps a session's TCP stream in trio's ``SSLStream`` over Python's ``ssl``
(``engine.tls``). This module holds what the other processes need to know about it,
without ``ssl`` or trio, so the GUI can build options and show what the engine reports:

* ``ClientTls``: how a client side verifies and presents itself (``open``'s ``tls``,
  ``relay``'s ``upstream_tls``); ``ServerTls``: the listening side's certificate (and
  the CA its clients must be signed by, for mutual TLS: ``listen``/``relay``'s ``tls``).
  Both travel as maps (``to_wire``/``from_wire``), add-only like every IPC map.
* ``TlsInfo``: what a handshake established: version, cipher, ALPN, the peer
  certificate's subject, issuer, SANs and validity, and whether it was verified (the
  ``tls_established`` event, ``list_sessions``, the CLI's json ``tls`` line).
* ``TlsCause``: why a handshake failed, one word each (``ConnectFailed.details``).

Pure data; no I/O, neither trio nor Qt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Self, get_args

__all__ = [
    "DEFAULT_MIN_VERSION",
    "TLS_CAUSES",
    "TLS_VERSIONS",
    "ClientTls",
    "PeerCert",
    "ServerTls",
    "TlsCause",
    "TlsInfo",
]

#: The versions a side may be limited to ("1.0" and "1.1" only where the local OpenSSL
#: still allows them).
TLS_VERSIONS = ("1.0", "1.1", "1.2", "1.3")
#: TLS 1.2 minimum by default (RFC 8996 deprecates 1.0 and 1.1).
DEFAULT_MIN_VERSION = "1.2"

#: Why a TLS handshake (or a TLS session's first read) failed.
TlsCause = Literal[
    "expired",  # the peer's certificate is past its notAfter
    "not_yet_valid",  # ... before its notBefore
    "hostname",  # the certificate is not for the host name (or IP address) asked for
    "unknown_ca",  # not issued by a CA we trust (--cafile, or the system's)
    "self_signed",  # a self-signed certificate we do not trust
    "untrusted",  # any other verification failure (revoked, bad chain, wrong purpose...)
    "client_cert_required",  # the server wants a client certificate (--cert/--key)
    "client_cert_rejected",  # the peer did not accept ours (unknown CA, expired...)
    "version",  # no TLS version both sides accept
    "plaintext_peer",  # the peer does not speak TLS (it answered in plaintext)
    "closed",  # the peer closed (or reset) the connection during the handshake
    "timeout",  # no handshake reply in time
    "handshake",  # any other handshake failure (an alert, no shared cipher...)
]
TLS_CAUSES: tuple[str, ...] = get_args(TlsCause)


def _version(value: object, what: str, *, empty_ok: bool) -> str:
    if not isinstance(value, str) or (value not in TLS_VERSIONS and not (empty_ok and not value)):
        raise ValueError(f"{what} must be one of {', '.join(TLS_VERSIONS)}, not {value!r}")
    return value


def _text(params: dict[str, Any], key: str) -> str:
    value = params.get(key, "")
    if not isinstance(value, str):
        raise ValueError(f"tls.{key} must be a string")
    return value


def _alpn(params: dict[str, Any]) -> tuple[str, ...]:
    value = params.get("alpn", [])
    if not isinstance(value, list | tuple) or not all(
        isinstance(p, str) and 0 < len(p.encode()) < 256 for p in value
    ):
        raise ValueError("tls.alpn must be a list of protocol names (1-255 bytes each)")
    return tuple(value)


def _check_range(min_version: str, max_version: str) -> None:
    if max_version and TLS_VERSIONS.index(max_version) < TLS_VERSIONS.index(min_version):
        raise ValueError(f"TLS max version {max_version} is below the min version {min_version}")


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientTls:
    """The TLS options of a client side (``open``, a relay's upstream).

    Verification is on unless ``insecure``: the server's certificate must chain to a
    trusted CA (the system's, or only ``cafile``'s when given) and be for ``server_name``
    (default: the host connected to, also sent as SNI when it is a name).
    """

    #: PEM file of the CAs to trust instead of the system's.
    cafile: str = ""
    #: Client certificate (PEM, may hold the chain) and its key, for mutual TLS.
    cert: str = ""
    key: str = ""
    #: ALPN protocols offered, in order of preference.
    alpn: tuple[str, ...] = ()
    #: The name sent as SNI and checked against the certificate ("": the host).
    server_name: str = ""
    #: Skip verification (the session is then marked unverified everywhere).
    insecure: bool = False
    min_version: str = DEFAULT_MIN_VERSION
    #: "" for the highest the local OpenSSL offers.
    max_version: str = ""

    def __post_init__(self) -> None:
        _version(self.min_version, "the TLS min version", empty_ok=False)
        _version(self.max_version, "the TLS max version", empty_ok=True)
        _check_range(self.min_version, self.max_version)
        if self.key and not self.cert:
            raise ValueError("a client key needs its certificate (tls.cert)")

    def to_wire(self) -> dict[str, Any]:
        """The map ``open``'s ``tls`` carries (keys at their defaults left out)."""
        wire: dict[str, Any] = {}
        for key, value in (
            ("cafile", self.cafile),
            ("cert", self.cert),
            ("key", self.key),
            ("server_name", self.server_name),
            ("max_version", self.max_version),
        ):
            if value:
                wire[key] = value
        if self.alpn:
            wire["alpn"] = list(self.alpn)
        if self.insecure:
            wire["insecure"] = True
        if self.min_version != DEFAULT_MIN_VERSION:
            wire["min_version"] = self.min_version
        return wire

    @classmethod
    def from_wire(cls, params: object) -> Self:
        """Read a ``tls`` map; unknown keys are ignored (add-only).

        Raises:
            ValueError: a key has a bad value (the message names it).
        """
        if not isinstance(params, dict):
            raise ValueError("tls must be a map")
        insecure = params.get("insecure", False)
        if not isinstance(insecure, bool):
            raise ValueError("tls.insecure must be true or false")
        return cls(
            cafile=_text(params, "cafile"),
            cert=_text(params, "cert"),
            key=_text(params, "key"),
            alpn=_alpn(params),
            server_name=_text(params, "server_name"),
            insecure=insecure,
            min_version=params.get("min_version", DEFAULT_MIN_VERSION),
            max_version=params.get("max_version", ""),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerTls:
    """The TLS options of a listening side (``listen``, a relay's client side)."""

    #: The certificate (PEM, may hold the chain) and its key.
    cert: str
    key: str = ""
    #: Require a client certificate issued by these CAs (PEM): mutual TLS.
    client_ca: str = ""
    #: ALPN protocols accepted, in order of preference.
    alpn: tuple[str, ...] = ()
    min_version: str = DEFAULT_MIN_VERSION
    max_version: str = ""

    def __post_init__(self) -> None:
        if not self.cert:
            raise ValueError("a TLS listener needs a certificate (tls.cert)")
        _version(self.min_version, "the TLS min version", empty_ok=False)
        _version(self.max_version, "the TLS max version", empty_ok=True)
        _check_range(self.min_version, self.max_version)

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"cert": self.cert}
        for key, value in (
            ("key", self.key),
            ("client_ca", self.client_ca),
            ("max_version", self.max_version),
        ):
            if value:
                wire[key] = value
        if self.alpn:
            wire["alpn"] = list(self.alpn)
        if self.min_version != DEFAULT_MIN_VERSION:
            wire["min_version"] = self.min_version
        return wire

    @classmethod
    def from_wire(cls, params: object) -> Self:
        """Read a listener's ``tls`` map.

        Raises:
            ValueError: a key is missing or has a bad value.
        """
        if not isinstance(params, dict):
            raise ValueError("tls must be a map")
        return cls(
            cert=_text(params, "cert"),
            key=_text(params, "key"),
            client_ca=_text(params, "client_ca"),
            alpn=_alpn(params),
            min_version=params.get("min_version", DEFAULT_MIN_VERSION),
            max_version=params.get("max_version", ""),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerCert:
    """The peer's certificate, as people read one (the leaf only)."""

    #: RFC 4514 strings: ``CN=localhost,O=framewire demo``.
    subject: str = ""
    issuer: str = ""
    #: Subject alternative names: ``DNS:localhost``, ``IP:127.0.0.1``, ``URI:...``.
    sans: tuple[str, ...] = ()
    #: Validity, ISO 8601 UTC (``2026-11-24T18:52:01Z``).
    not_before: str = ""
    not_after: str = ""
    serial: str = ""
    #: SHA-256 of the DER certificate, hex with colons (as browsers and openssl show it).
    sha256: str = ""

    def to_wire(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "sans": list(self.sans),
            "not_before": self.not_before,
            "not_after": self.not_after,
            "serial": self.serial,
            "sha256": self.sha256,
        }

    @classmethod
    def from_wire(cls, value: object) -> Self | None:
        if not isinstance(value, dict) or not value:
            return None
        sans = value.get("sans", [])
        return cls(
            subject=_str(value, "subject"),
            issuer=_str(value, "issuer"),
            sans=tuple(s for s in sans if isinstance(s, str)) if isinstance(sans, list) else (),
            not_before=_str(value, "not_before"),
            not_after=_str(value, "not_after"),
            serial=_str(value, "serial"),
            sha256=_str(value, "sha256"),
        )


def _str(value: dict[str, Any], key: str) -> str:
    item = value.get(key, "")
    return item if isinstance(item, str) else ""


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsInfo:
    """What a TLS handshake established on one session."""

    #: "client" (we connected) or "server" (we accepted).
    side: Literal["client", "server"] = "client"
    #: ``TLSv1.3``, ``TLSv1.2``.
    version: str = ""
    cipher: str = ""
    bits: int = 0
    #: The ALPN protocol agreed on ("" for none).
    alpn: str = ""
    #: The name sent as SNI and checked (client side), or the SNI the client sent.
    server_name: str = ""
    #: Whether the peer's certificate was verified (chain and, client side, host name).
    #: False with --insecure, and on a listener that does not ask for client certificates.
    verified: bool = False
    #: One sentence on what was (or was not) checked.
    verification: str = ""
    peer_cert: PeerCert | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        """The map of the ``tls_established`` event and of ``list_sessions``' ``tls``."""
        return {
            "side": self.side,
            "version": self.version,
            "cipher": self.cipher,
            "bits": self.bits,
            "alpn": self.alpn,
            "server_name": self.server_name,
            "verified": self.verified,
            "verification": self.verification,
            "peer_cert": self.peer_cert.to_wire() if self.peer_cert is not None else {},
        }

    @classmethod
    def from_wire(cls, value: object) -> Self | None:
        """The info in an event's or a session map's ``tls``; None if there is none."""
        if not isinstance(value, dict) or not value.get("version"):
            return None
        side = value.get("side")
        bits = value.get("bits", 0)
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        return cls(
            side="server" if side == "server" else "client",
            version=_str(value, "version"),
            cipher=_str(value, "cipher"),
            bits=bits if type(bits) is int else 0,
            alpn=_str(value, "alpn"),
            server_name=_str(value, "server_name"),
            verified=value.get("verified") is True,
            verification=_str(value, "verification"),
            peer_cert=PeerCert.from_wire(value.get("peer_cert")),
            extra={k: v for k, v in value.items() if k not in known},
        )

    def summary(self) -> str:
        """One line: ``TLSv1.3 TLS_AES_256_GCM_SHA384, ALPN h2, verified``."""
        parts = [f"{self.version} {self.cipher}".strip()]
        if self.alpn:
            parts.append(f"ALPN {self.alpn}")
        if self.verified:
            parts.append("verified")
        elif self.side == "client":
            parts.append("NOT VERIFIED")
        else:
            parts.append("client not authenticated")
        return ", ".join(parts)

    def details(self) -> list[tuple[str, str]]:
        """Label/value rows for a details view (the window's TLS details, the CLI)."""
        rows = [
            ("version", self.version),
            ("cipher", f"{self.cipher} ({self.bits} bits)" if self.bits else self.cipher),
            ("ALPN", self.alpn or "none"),
        ]
        if self.server_name:
            rows.append(("server name", self.server_name))
        rows.append(("verification", self.verification))
        cert = self.peer_cert
        who = "server" if self.side == "client" else "client"
        if cert is None:
            rows.append((f"{who} certificate", "none"))
            return rows
        rows += [
            ("subject", cert.subject),
            ("issuer", cert.issuer),
            ("SANs", ", ".join(cert.sans) or "none"),
            ("valid from", cert.not_before),
            ("valid until", cert.not_after),
            ("serial", cert.serial),
            ("SHA-256", cert.sha256),
        ]
        return rows
