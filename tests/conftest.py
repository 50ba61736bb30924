"""Shared test setup: Qt renders offscreen, so tests run without a display, and the
window's remembered settings (QSettings, on Linux under $XDG_CONFIG_HOME) go to a
directory of the test run, never the user's."""

import os
from collections.abc import Iterator

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session", autouse=True)
def _private_config_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    before = os.environ.get("XDG_CONFIG_HOME")
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("config"))
    yield
    if before is None:
        del os.environ["XDG_CONFIG_HOME"]
    else:
        os.environ["XDG_CONFIG_HOME"] = before


@pytest.fixture(scope="session")
def tls_certs(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The TLS tests' certificates (tests/tls_certs.py), made once per test session."""
    from tests.tls_certs import make_certs

    return make_certs(tmp_path_factory.mktemp("tls"))
