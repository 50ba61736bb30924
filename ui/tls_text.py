"""How the window speaks of TLS (Qt-free): the unverified mark a session carries
wherever it appears, and what to do in the window about a failed handshake.

An *unverified* session is a client side that skipped verification (Insecure,
``--insecure``): its peer may be anyone. A listener's session whose client sent no
certificate is not unverified in that sense (servers do not usually ask for one): it
carries the lock, and its details say the client was not authenticated.
"""

from __future__ import annotations

from ipc.tls import TlsInfo

__all__ = ["UNVERIFIED_MARK", "is_unverified", "note_text", "tls_mark", "window_hint"]

#: What an unverified session's name and peer carry in the table and the log.
UNVERIFIED_MARK = "⚠"


def is_unverified(tls: TlsInfo | None) -> bool:
    """Whether ``tls`` is a client side whose server was not verified."""
    return tls is not None and tls.side == "client" and not tls.verified


def tls_mark(tls: TlsInfo | None, *, pair_side: bool = False) -> str:
    """The peer's text prefix: the unverified mark and words for a session that skipped
    verification; for a relay pair's side, "TLS · " (one lock cannot say which side);
    nothing otherwise (the lock is an icon, ``ui.lock_icon``)."""
    if tls is None:
        return ""
    if is_unverified(tls):
        return f"{UNVERIFIED_MARK} unverified TLS · "
    return "TLS · " if pair_side else ""


def note_text(tls: TlsInfo) -> str:
    """The log's note: ``TLS: TLSv1.3 TLS_AES_256_GCM_SHA384, verified (issued by a CA in
    ...)``, the verification's own "verified:" or "NOT VERIFIED:" said once."""
    why = tls.verification
    head, sep, rest = why.partition(": ")
    if sep and head in ("verified", "NOT VERIFIED"):
        why = rest
    return f"TLS: {tls.summary()} ({why})"


#: What to change in the open form for each ``ipc.tls.TlsCause`` (the engine's message
#: says the same for the command line).
_HINTS = {
    "unknown_ca": "choose the server's CA in the TLS row's CA box (or tick Insecure to "
    "connect without verifying)",
    "self_signed": "choose its certificate in the TLS row's CA box (or tick Insecure to "
    "connect without verifying)",
    "hostname": "connect by a name the certificate is for, or put one in the TLS row's name box",
    "expired": "the server's certificate is out of date: renew it (or tick Insecure)",
    "not_yet_valid": "the server's certificate is not valid yet: check the clocks",
    "client_cert_required": "choose a client certificate (cert, key) in the TLS row",
    "client_cert_rejected": "choose a client certificate the server trusts (cert, key)",
    "plaintext_peer": "the server speaks plaintext: untick TLS",
    "version": "the server and framewire share no TLS version (TLS 1.2 at least)",
}


def window_hint(cause: str) -> str:
    """What to do in the window about a TLS failure of ``cause`` ("" if nothing helps)."""
    return _HINTS.get(cause, "")
