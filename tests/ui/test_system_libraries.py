"""Naming the X11 libraries Qt's xcb plugin misses, with the commands that install them."""

from ui.system_libraries import install_commands, missing_message, parse_ldd

LDD_OUTPUT = """\
\tlinux-vdso.so.1 (0x00007ffd3b5f2000)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f1c2a800000)
\tlibxcb-cursor.so.0 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-cursor.so.0 => not found
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f1c29e00000)
"""


def test_ldd_output_gives_the_missing_libraries_once_each():
    assert parse_ldd(LDD_OUTPUT) == ["libxcb-cursor.so.0", "libxcb-icccm.so.4",
                                     "libxcb-keysyms.so.1"]  # fmt: skip
    assert parse_ldd("\tlibc.so.6 => /lib/libc.so.6 (0x1)\n") == []


def test_the_message_names_the_libraries_and_both_install_commands():
    message = missing_message(parse_ldd(LDD_OUTPUT))
    assert "\n" not in message
    assert "libxcb-cursor.so.0, libxcb-icccm.so.4, libxcb-keysyms.so.1" in message
    assert (
        "sudo apt install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 (Debian/Ubuntu)" in message
    )
    assert "sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms (Fedora)" in message
    assert "--headless" in message


def test_shared_packages_are_named_once_and_unknown_libraries_as_they_are():
    text = install_commands(["libxcb-shm.so.0", "libxcb-xkb.so.1", "libfoo.so.3"])
    assert "sudo dnf install libxcb (Fedora)" in text
    assert "apt install libxcb-shm0 libxcb-xkb1" in text
    assert text.endswith("and the packages that provide libfoo.so.3")
