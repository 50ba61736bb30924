"""The errors of the exchanges package."""

from __future__ import annotations

__all__ = ["ExpansionError", "ScriptError", "UnsetVariable"]


class ScriptError(ValueError):
    """A script, project or recording file says something wrong (a usage error: exit 2).

    ``str()`` is ``FILE:LINE: message`` (``FILE: message`` when no line is known), the form
    editors and CI logs jump to.
    """

    def __init__(self, message: str, *, path: str = "", line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line

    def __str__(self) -> str:
        where = self.path or "<script>"
        if self.line is not None:
            where += f":{self.line}"
        return f"{where}: {self.message}"

    def at(self, path: str, line: int | None) -> ScriptError:
        """The same error, placed in ``path`` at ``line`` (unless it already has a place)."""
        return ScriptError(
            self.message, path=self.path or path, line=self.line if self.line is not None else line
        )


class ExpansionError(ValueError):
    """A placeholder cannot be expanded where it stands (the message says why)."""


class UnsetVariable(ExpansionError):
    """A ``{{name}}`` with no value: not built in, not in ``[vars]``, not captured yet."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"{{{{{name}}}}} has no value: it is not built in, not in [vars] or --var, "
            "and no earlier step captured it"
        )
        self.name = name
