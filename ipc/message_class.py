"""How the schema's message classes are built: frozen, slotted, keyword-only records.

``@message`` does for an ``ipc.schema`` command or event what
``@dataclass(frozen=True, slots=True, kw_only=True)`` did, and type checkers read it the
same way (``dataclass_transform``), but it generates no code. Why: ``dataclass`` compiles
five or six methods per class from source text, about 0.7 ms a class here, and the
schema has 36 classes: every process that imports the schema (the engine, the window,
each one-shot ``framewire-engine HOST:PORT --send x`` that scripts run in loops) paid
~25 ms for it, more than the rest of the CLI's own imports together
(``tools/bench/startup.py``). Here every class shares the same few functions, reading
its field table; building a class is a ``type()`` call.

What a message class gets:

- ``__init__(**fields)``: keyword arguments only; a missing required field or an
  unknown one is a ``TypeError``, as with a dataclass; defaults are plain values or
  ``dataclasses.field(default_factory=...)``. The values are then checked by the class's
  ``_check`` hook (``ipc.schema`` checks them against the type hints).
- ``_unchecked(**fields)``: the same without the check, for values well-formed by
  construction (the engine's own decoder's frames: ``engine.session``).
- immutability (``FrozenInstanceError``), ``__eq__`` and ``__hash__`` over the fields in
  order (as a frozen dataclass), a dataclass-like ``__repr__``, and ``_field_names``,
  ``_defaults``, ``_factories`` (the field table) for the schema's own code.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any, ClassVar, Self, TypeVar, dataclass_transform

__all__ = ["MessageBase", "message"]

_T = TypeVar("_T", bound="MessageBase")
_set = object.__setattr__


class MessageBase:
    """What every ``@message`` class inherits: the shared methods over its field table."""

    __slots__ = ()
    #: Every field's name, in order (the class's own after its bases').
    _field_names: ClassVar[tuple[str, ...]] = ()
    #: The fields with a default value, and those with a ``default_factory``.
    _defaults: ClassVar[dict[str, Any]] = {}
    _factories: ClassVar[dict[str, Callable[[], Any]]] = {}

    def __init__(self, **values: Any) -> None:
        self._fill(values)
        self._check()

    @classmethod
    def _unchecked(cls, **values: Any) -> Self:
        """A message from values known to be well-formed (``_check`` is skipped)."""
        made = cls.__new__(cls)
        made._fill(values)
        return made

    def _fill(self, values: dict[str, Any]) -> None:
        defaults = self._defaults
        for name in self._field_names:
            if name in values:
                _set(self, name, values.pop(name))
            elif name in defaults:
                _set(self, name, defaults[name])
            elif name in self._factories:
                _set(self, name, self._factories[name]())
            else:
                raise TypeError(
                    f"{type(self).__qualname__}() missing required keyword argument: {name!r}"
                )
        if values:
            unknown = ", ".join(map(repr, values))
            raise TypeError(
                f"{type(self).__qualname__}() got unexpected keyword argument(s) {unknown}"
            )

    def _check(self) -> None:
        """Check the values (a subclass's hook; nothing here)."""

    def __setattr__(self, name: str, value: object) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._field_names)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._field_names)
        return f"{type(self).__qualname__}({shown})"


@dataclass_transform(
    kw_only_default=True, frozen_default=True, field_specifiers=(dataclasses.field,)
)
def message(cls: type[_T]) -> type[_T]:
    """Make ``cls`` a message class (see the module docstring); returns a new class with
    ``__slots__`` for its fields, as ``dataclass(slots=True)`` does.

    Annotations are read as written (``from __future__ import annotations``: strings);
    ``ClassVar[...]`` ones are not fields.
    """
    names = list(cls._field_names)
    defaults = dict(cls._defaults)
    factories = dict(cls._factories)
    namespace = dict(cls.__dict__)
    own = []
    for name, hint in inspect.get_annotations(cls).items():
        if str(hint).startswith(("ClassVar", "typing.ClassVar")):
            continue
        if name not in names:
            names.append(name)
            own.append(name)
        if name in namespace:
            value = namespace.pop(name)
            if isinstance(value, dataclasses.Field):
                if value.default_factory is not dataclasses.MISSING:
                    factories[name] = value.default_factory
                elif value.default is not dataclasses.MISSING:
                    defaults[name] = value.default
            else:
                defaults[name] = value
    namespace.pop("__dict__", None)
    namespace.pop("__weakref__", None)
    namespace["__slots__"] = tuple(own)
    namespace["_field_names"] = tuple(names)
    namespace["_defaults"] = defaults
    namespace["_factories"] = factories
    metaclass: Any = type(cls)
    built: type[_T] = metaclass(cls.__name__, cls.__bases__, namespace)
    built.__qualname__ = cls.__qualname__
    return built
