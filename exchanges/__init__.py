"""Exchanges you can keep and rerun: saved messages, send/expect scripts, replays (sans-IO).

- ``messages.py``: a message (text, hex, JSON as JSON/MessagePack/CBOR) and the project
  file of saved messages (``tomllib`` reads it, ``tomli-w`` writes it);
- ``variables.py``: ``{{seq}}``, ``{{now}}``, ``{{random_hex:8}}``, ``[vars]``, captures;
- ``script.py``: the TOML script format, read and checked (``ScriptError``: file and line);
- ``matching.py``: an expect step's conditions and how a frame differs;
- ``runner.py``: ``Runner``, a script run as a state machine: events in, actions out;
- ``report.py``: the failure report (the step, expected and got as text and hex);
- ``junit.py``: JUnit XML; ``replay.py``: recordings as scripts and sessions as scripts;
- ``toml_lines.py``: the line of each key, for error messages.

It imports neither trio nor Qt: the engine CLI drives a ``Runner`` with trio
(``engine/cli/script_driver.py``), and the window uses the rest.
"""

from exchanges.errors import ExpansionError, ScriptError, UnsetVariable
from exchanges.junit import Case, junit_xml
from exchanges.matching import Expectation, Ignore, parse_ignore
from exchanges.messages import Message, Project, dump_project, load_project, message_from_toml
from exchanges.replay import SessionFrame, script_from_recording, script_text
from exchanges.runner import CloseConnection, Outcome, Runner, SendFrame
from exchanges.script import Rule, Script, Step, load_script, parse_script
from exchanges.variables import Variables

__all__ = [
    "Case",
    "CloseConnection",
    "ExpansionError",
    "Expectation",
    "Ignore",
    "Message",
    "Outcome",
    "Project",
    "Rule",
    "Runner",
    "Script",
    "ScriptError",
    "SendFrame",
    "SessionFrame",
    "Step",
    "UnsetVariable",
    "Variables",
    "dump_project",
    "junit_xml",
    "load_project",
    "load_script",
    "message_from_toml",
    "parse_ignore",
    "parse_script",
    "script_from_recording",
    "script_text",
]
