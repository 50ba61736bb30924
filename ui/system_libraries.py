"""Which system libraries Qt's xcb platform plugin is missing, and how to install them
(Qt-free: ``ldd`` and a table of package names).

PySide6's wheels bring Qt but not the X11 libraries its ``xcb`` plugin links against. A
fresh desktop install often lacks a few (Debian 12: libxcb-cursor0, libxcb-icccm4,
libxcb-keysyms1), and Qt then aborts with "Could not load the Qt platform plugin "xcb"
… even though it was found", which names none of them. ``ui.qt_messages`` catches that
failure and asks ``missing_libraries`` which ones ``ldd`` cannot find, so the message
names them with the command that installs them (issue 15).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable

__all__ = [
    "PACKAGES",
    "install_commands",
    "missing_libraries",
    "missing_message",
    "parse_ldd",
]

#: Libraries the xcb plugin links against (beyond glibc's and Qt's own), with the package
#: that ships each on Debian/Ubuntu and on Fedora.
PACKAGES: dict[str, tuple[str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libGLX.so.0": ("libglx0", "libglvnd-glx"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
}

#: How long ``ldd`` may take (it only reads ELF headers).
LDD_TIMEOUT_SECONDS = 10.0


def parse_ldd(output: str) -> list[str]:
    """The libraries ``ldd`` reported as ``not found``, in its order, without repeats."""
    missing: list[str] = []
    for line in output.splitlines():
        name, arrow, where = line.strip().partition(" => ")
        if arrow and where.strip() == "not found" and name not in missing:
            missing.append(name)
    return missing


def missing_libraries(library: str) -> list[str] | None:
    """What ``ldd`` cannot find of ``library``'s dependencies (recursively); None when
    that cannot be told (no ``ldd``, as on musl or macOS, or it failed)."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return None
    try:
        result = subprocess.run(
            [ldd, library],
            capture_output=True,
            text=True,
            timeout=LDD_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_ldd(result.stdout)


def install_commands(missing: list[str]) -> str:
    """The commands that install ``missing`` on Debian/Ubuntu and on Fedora (libraries
    this table does not know are named for the user to look up)."""
    debian = _unique(PACKAGES[name][0] for name in missing if name in PACKAGES)
    fedora = _unique(PACKAGES[name][1] for name in missing if name in PACKAGES)
    unknown = [name for name in missing if name not in PACKAGES]
    parts = []
    if debian:
        parts.append(
            f"sudo apt install {' '.join(debian)} (Debian/Ubuntu), "
            f"sudo dnf install {' '.join(fedora)} (Fedora)"
        )
    if unknown:
        parts.append(f"and the packages that provide {', '.join(unknown)}")
    return " ".join(parts)


def missing_message(missing: list[str]) -> str:
    """One line for the user: what is missing, how to install it, what works meanwhile."""
    return (
        "Qt's xcb platform plugin cannot load: these system libraries are missing: "
        f"{', '.join(missing)}. Install them with: {install_commands(missing)}. Without a "
        "window: framewire --headless, or --offscreen"
    )


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))
