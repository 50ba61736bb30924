"""The Saved messages panel and the log's "Save as message" / "Save session as script",
in the real window with its engine and the demo server."""

from __future__ import annotations

import tomllib

import msgpack
from PySide6.QtWidgets import QFileDialog

from exchanges import Message, parse_script
from tests.ui.helpers import open_session, payloads, send_text
from ui.log_model import LogModel
from ui.log_store import Direction
from ui.main_window import MainWindow
from ui.session_model import SessionModel
from ui.supervisor import EngineSupervisor
from ui.tick_probe import TickProbe
from ui.widgets.saved_messages import SavedMessagesPanel


def test_saved_messages_are_kept_sent_renamed_edited_and_deleted(
    qtbot, window, demo_server, tmp_path
) -> None:
    project = tmp_path / "messages.toml"
    saved = window.saved
    saved.path = str(project)
    saved.load()
    info = open_session(qtbot, window, *demo_server)

    window.compose.mode.setCurrentText("JSON")
    window.compose.encoding.setCurrentText("as MessagePack")
    window.compose.editor.setText('{"op": "hi", "seq": "{{seq}}"}')
    saved.name.setText("hi")
    saved.save_button.click()
    assert tomllib.loads(project.read_text())["messages"] == {
        "hi": {"json": '{"op": "hi", "seq": "{{seq}}"}', "encoding": "msgpack"}
    }

    item = saved.list.item(0)
    saved.list.setCurrentItem(item)
    saved.list.itemDoubleClicked.emit(item)
    saved.send_button.click()
    sent = lambda: payloads(window, info.name, Direction.OUT)  # noqa: E731
    qtbot.waitUntil(lambda: len(sent()) == 2, timeout=5_000)
    assert [msgpack.unpackb(p) for p in sent()] == [{"op": "hi", "seq": 1}, {"op": "hi", "seq": 2}]

    item.setText("hello")  # renamed in place
    assert list(tomllib.loads(project.read_text())["messages"]) == ["hello"]
    window.compose.editor.clear()
    saved.list.setCurrentRow(0)
    saved.edit_action.trigger()
    assert window.compose.editor.text() == '{"op": "hi", "seq": "{{seq}}"}'
    assert saved.name.text() == "hello"

    name = saved.save_payload(b"\x00\xff")
    assert tomllib.loads(project.read_text())["messages"][name] == {"hex": "00 ff"}
    saved.list.setCurrentRow(0)
    saved.delete_action.trigger()
    assert list(tomllib.loads(project.read_text())["messages"]) == [name]


def test_a_session_is_saved_as_a_script_that_reads_back(
    qtbot, window, demo_server, tmp_path
) -> None:
    info = open_session(qtbot, window, *demo_server)
    send_text(window, "hello")
    qtbot.waitUntil(lambda: len(payloads(window, info.name, Direction.IN)) == 1, timeout=5_000)
    path = tmp_path / "session.toml"
    direction, note = window.write_session_script(info.name, str(path))
    assert (direction, note) == (
        Direction.INFO, f"saved 2 frames of {info.name} as a script: {path}"
    )  # fmt: skip
    script = parse_script(path.read_text(), str(path))
    assert [step.kind for step in script.steps] == ["send", "expect"]
    assert script.steps[0].message is not None and script.steps[0].message.body == "hello"
    reply = payloads(window, info.name, Direction.IN)[0]
    assert script.steps[1].expectation is not None
    assert script.steps[1].expectation.text == reply.decode()


def test_a_project_file_that_does_not_read_is_said_and_never_written_over(qtbot, tmp_path) -> None:
    project = tmp_path / "messages.toml"
    project.write_text("[messages.a]\ntext = \n")
    panel = SavedMessagesPanel(str(project))
    qtbot.addWidget(panel)
    assert panel.error.text() == (
        f"{project}:2: not valid TOML: Invalid value (column 8) (the panel will not write over it)"
    )
    assert not panel.save("b", Message("text", "x"))
    assert project.read_text() == "[messages.a]\ntext = \n"


def notes(window, session: str, direction: Direction) -> list[str]:
    return [p.decode() for p in payloads(window, session, direction)]


def test_run_passes_a_script_and_marks_a_replay_that_differs_in_the_log(
    qtbot, window, demo_server, tmp_path
) -> None:
    info = open_session(qtbot, window, *demo_server)
    script = tmp_path / "hello.toml"
    script.write_text(
        '[[steps]]\nsend.text = "hello"\n[[steps]]\nexpect.regex = "you said: (?P<w>\\\\w+)"\n'
        '[[steps]]\nsend.text = "again {{w}}"\n[[steps]]\nexpect.text = "hello, client! you '
        'said: again hello"\n'
    )
    player = window.run_script(str(script))
    assert player is not None
    with qtbot.waitSignal(player.finished, timeout=5_000) as finished:
        pass
    assert finished.args[0].passed
    assert notes(window, info.name, Direction.INFO)[-1] == (
        f"✓ {script}: passed (2 frames sent, 2 received)"
    )
    assert window.players == []

    recording = tmp_path / "changed.jsonl"  # the server's reply to "hello", but changed
    recording.write_text(
        '{"v": 1, "t": 1.0, "session": 1, "dir": "out", "len": 5, "hex": "68656c6c6f"}\n'
        '{"v": 1, "t": 1.1, "session": 1, "dir": "in", "len": 5, "hex": "68656c6c70"}\n'
    )
    player = window.run_script(str(recording))
    assert player is not None
    with qtbot.waitSignal(player.finished, timeout=5_000) as finished:
        pass
    outcome = finished.args[0]
    assert outcome.kind == "expectation"
    report = notes(window, info.name, Direction.ERROR)[-1]
    assert report.splitlines()[0] == (
        f"✗ {recording}:2: frame 2 failed: expect the recorded frame (in, 5 bytes)"
    )
    # The difference is marked right after the frame that differs.
    store = window.log_model.store
    rows = [r for r in store.rows(store.first_seq, store.end_seq) if r.session == info.name]
    assert rows[-1].direction is Direction.ERROR
    assert rows[-2].direction is Direction.IN and rows[-2].payload.startswith(b"hello, client!")


def test_run_says_what_is_wrong_with_a_bad_file(qtbot, window, demo_server, tmp_path) -> None:
    open_session(qtbot, window, *demo_server)
    bad = tmp_path / "bad.toml"
    bad.write_text("[[steps]]\nsned.text = 'x'\n")
    assert window.run_script(str(bad)) is None
    assert window.saved.error.text() == (
        f"{bad}:2: unknown step 'sned' (did you mean 'send'?): a step is one of send, "
        "expect, wait, repeat, close"
    )


def test_run_asks_for_its_file_without_holding_up_the_caller(qtbot, tmp_path) -> None:
    panel = SavedMessagesPanel(str(tmp_path / "messages.toml"))
    qtbot.addWidget(panel)
    panel.show()
    panel.set_target(True, "utf-8")
    panel.run_button.click()  # returns at once (a static dialog would run its own loop)
    dialog = panel.findChild(QFileDialog)
    assert dialog is not None and dialog.isVisible()
    script = str(tmp_path / "check.toml")
    with qtbot.waitSignal(panel.run_requested) as chosen:
        dialog.fileSelected.emit(script)
    assert chosen.args == [script]


def test_save_session_as_script_asks_for_its_file_without_holding_up_the_caller(
    qtbot, tmp_path
) -> None:
    window = MainWindow(
        EngineSupervisor(), log_model=LogModel(cap=100), session_model=SessionModel(),
        probe=TickProbe(0.025),
    )  # fmt: skip
    qtbot.addWidget(window)
    window.show()
    window.log_model.append("#1", Direction.OUT, 1.0, [b"hello"])
    window.log_model.flush()
    window._save_session_script("#1")  # what the log's context menu calls; returns at once
    dialog = window.findChild(QFileDialog)
    assert dialog is not None and dialog.isVisible()
    path = tmp_path / "session-1.toml"
    dialog.fileSelected.emit(str(path))
    (step,) = parse_script(path.read_text(), str(path)).steps
    assert step.kind == "send" and step.message is not None and step.message.body == "hello"
    notes = payloads(window, "#1", Direction.INFO)
    assert notes == [f"saved 1 frame of #1 as a script: {path}".encode()]
