"""The demo server's binary messages as a construct layout.

Decode them with ``--layout tools/demo_layout.py:MESSAGE``.

A layout file like this one is how framewire decodes a hand-made binary protocol: plain
Python that builds ``construct`` objects. Here the first byte selects the message type,
the most common shape of such protocols.
"""

from construct import (
    Byte,
    Enum,
    Float32b,
    Int16sb,
    Int32ub,
    PascalString,
    PrefixedArray,
    Struct,
    Switch,
    this,
)

MessageType = Enum(Byte, login=1, position=2, bye=3)

Login = Struct(
    "user" / PascalString(Byte, "utf8"),
    "flags" / Byte,
)
Position = Struct(
    "x" / Int16sb,
    "y" / Int16sb,
    "speed" / Float32b,
    "waypoints" / PrefixedArray(Byte, Struct("x" / Int16sb, "y" / Int16sb)),
)
Bye = Struct("reason" / PascalString(Byte, "utf8"))

#: One message: a type byte, a sequence number, then the body its type selects.
MESSAGE = Struct(
    "type" / MessageType,
    "seq" / Int32ub,
    "body" / Switch(this.type, {"login": Login, "position": Position, "bye": Bye}),
)
