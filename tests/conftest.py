"""Shared test setup (tests/README.md says how the suite runs and what each test owes it).

- Qt renders offscreen, so tests run without a display.
- Each test process (every xdist worker, or the one pytest process) gets private
  ``XDG_CONFIG_HOME`` (the window's remembered settings, QSettings) and
  ``XDG_RUNTIME_DIR`` (the long-lived engines' default sockets, ``ipc/socket_path.py``)
  folders, never the user's and never another worker's.
- ``--suite-pass`` splits the suite in two for ``make test``: ``parallel`` runs every test
  not marked ``serial`` (under ``pytest -n``), ``serial`` runs only those, alone.
- Hypothesis has no per-example deadline and no "too slow" health check: both are
  wall-clock limits, which a loaded machine breaks without any bug.
"""

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

settings.register_profile("framewire", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("framewire")

#: The marker of tests that measure time, a rate or memory over time (pyproject.toml).
SERIAL = "serial"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--suite-pass",
        choices=("parallel", "serial"),
        default=None,
        help="parallel: deselect the tests marked serial; serial: run only those "
        "(make test runs both, the first under -n)",
    )


@pytest.hookimpl(trylast=True)  # after -k and -m: what they leave is split
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    which = config.getoption("--suite-pass")
    if which is None:
        return
    keep = [
        item
        for item in items
        if (item.get_closest_marker(SERIAL) is not None) == (which == "serial")
    ]
    dropped = [item for item in items if item not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def _private_folder(factory: pytest.TempPathFactory, name: str) -> str:
    path = factory.mktemp(name)
    path.chmod(0o700)  # as a session's runtime folder is; ipc/socket_path.py checks it
    return str(path)


@pytest.fixture(scope="session", autouse=True)
def _private_xdg_folders(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    names = {"XDG_CONFIG_HOME": "config", "XDG_RUNTIME_DIR": "runtime"}
    before = {var: os.environ.get(var) for var in names}
    for var, name in names.items():
        os.environ[var] = _private_folder(tmp_path_factory, name)
    yield
    for var, value in before.items():
        if value is None:
            del os.environ[var]
        else:
            os.environ[var] = value


@pytest.fixture(scope="session")
def tls_certs(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The TLS tests' certificates (tests/tls_certs.py), made once per test session."""
    from tests.tls_certs import make_certs

    return make_certs(tmp_path_factory.mktemp("tls"))
