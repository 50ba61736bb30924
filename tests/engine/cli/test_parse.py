"""``--help`` explains what a newcomer needs: framing, exit codes, examples."""

from __future__ import annotations

from tests.engine.cli.helpers import run_cli


async def test_help_explains_framing_exit_codes_and_examples() -> None:
    result = await run_cli("--help")
    assert result.returncode == 0
    text = result.stdout.decode()
    for needle in ("le32", "BIG-endian", "exit codes", "examples", "--stdio", "--count"):
        assert needle in text


def test_the_decode_choices_are_the_decoders_packages_names() -> None:
    # spelled out in parse.py so that runs without --decode do not import the decoders
    from decoders import DECODER_NAMES
    from engine.cli.parse import DECODER_CHOICES

    assert DECODER_CHOICES == DECODER_NAMES
