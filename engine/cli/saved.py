"""``--project FILE --send-saved NAME`` and ``--var NAME=VALUE``: saved messages and
variables on the command line (``exchanges.messages``, ``exchanges.variables``)."""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from engine.cli.exits import UsageError
from exchanges import ExpansionError, Project, ScriptError, Variables, load_project

__all__ = ["SavedMessages", "parse_variables"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_variables(items: list[str]) -> dict[str, Any]:
    """``--var NAME=VALUE`` options: VALUE is JSON if it reads as JSON (``7``, ``true``,
    ``"007"``, ``[1, 2]``), else the text itself.

    Raises:
        UsageError: no ``=``, or not a name before it.
    """
    variables: dict[str, Any] = {}
    for item in items:
        name, equals, value = item.partition("=")
        if not equals or _NAME.fullmatch(name) is None:
            raise UsageError(
                f"--var {item!r}: write NAME=VALUE, NAME a letter or _ then letters, digits, _"
            )
        try:
            variables[name] = json.loads(value)
        except json.JSONDecodeError:
            variables[name] = value
    return variables


class SavedMessages:
    """The ``--project`` file's messages, rendered in order: one ``Variables`` for the run,
    so ``{{seq}}`` counts 1, 2, 3 over the ``--send-saved`` frames."""

    def __init__(self, args: argparse.Namespace) -> None:
        if args.project is None:
            raise UsageError("--send-saved NAME sends a message of a project: add --project FILE")
        try:
            self.project: Project = load_project(args.project)
        except ScriptError as exc:
            raise UsageError(str(exc)) from None
        self.variables = Variables({**self.project.variables, **parse_variables(args.variables)})
        self.encoding: str = args.encoding
        self.path: str = args.project

    def render(self, name: str) -> bytes:
        """The payload of the saved message ``name``.

        Raises:
            UsageError: no such message, or its placeholders cannot be expanded.
        """
        message = self.project.messages.get(name)
        if message is None:
            known = ", ".join(sorted(self.project.messages)) or "none"
            raise UsageError(
                f"--send-saved {name!r}: no such message in {self.path} (it has: {known})"
            )
        self.variables.seq += 1
        try:
            return message.render(self.variables, self.encoding)
        except ExpansionError as exc:
            raise UsageError(f"--send-saved {name!r}: {exc}") from None
