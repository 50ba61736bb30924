"""The engine process's allocator tuning (engine/allocator.py)."""

from __future__ import annotations

import platform

from engine.allocator import tune_allocator


def test_tune_allocator_applies_on_glibc_and_is_a_no_op_elsewhere() -> None:
    assert tune_allocator() is (platform.libc_ver()[0] == "glibc")
