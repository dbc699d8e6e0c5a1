"""The Qt job runner: JSON events become signals, SIGINT cancels, detached jobs are tailed."""

from __future__ import annotations

import sys
import textwrap

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from gantrans_gui import job_runner  # noqa: E402
from gantrans_gui.job_runner import JobRunner  # noqa: E402

SCRIPT = textwrap.dedent("""
    import json, signal, sys, time
    def ev(**kw):
        print(json.dumps({"v": 1, **kw}), flush=True)
    stop = []
    signal.signal(signal.SIGINT, lambda *a: stop.append(1))
    ev(event="start", command="fake", total=3, unit="step")
    print("prose on stderr", file=sys.stderr, flush=True)
    for k in range(1, 4):
        ev(event="progress", done=k, total=3, rate=1.0, eta_s=3 - k, losses={"G": 1.0 / k})
    ev(event="message", text="hello")
    if "--wait" in sys.argv:
        while not stop:
            time.sleep(0.02)
        ev(event="message", text="checkpoint saved")
        ev(event="done", exit_code=130)
        sys.exit(130)
    ev(event="result", files=["a.onnx"], figures={"parity": 1e-6})
    ev(event="done", exit_code=0)
""")


@pytest.fixture
def fake_cli(monkeypatch):
    monkeypatch.setattr(job_runner, "_command_argv", lambda args: [sys.executable, "-c", SCRIPT, *args])


def _collect(runner):
    seen = {"progress": [], "messages": [], "output": [], "result": [], "errors": []}
    runner.progress.connect(seen["progress"].append)
    runner.message.connect(seen["messages"].append)
    runner.output.connect(seen["output"].append)
    runner.result.connect(seen["result"].append)
    runner.error.connect(seen["errors"].append)
    return seen


@pytest.mark.parametrize("detached", [False, True])
def test_events_become_signals(qtbot, fake_cli, tmp_path, detached):
    runner = JobRunner()
    seen = _collect(runner)
    with qtbot.waitSignal(runner.finished, timeout=20000) as blocker:
        runner.start(["x"], detached_log=tmp_path / "job" if detached else None)
    assert blocker.args == [0]
    assert [p["done"] for p in seen["progress"]] == [1, 2, 3]
    assert seen["progress"][-1]["losses"] == {"G": 1 / 3}
    assert seen["messages"] == ["hello"]
    assert seen["result"][0]["files"] == ["a.onnx"]
    assert "prose on stderr" in seen["output"]
    assert not seen["errors"] and not runner.running()


@pytest.mark.parametrize("detached", [False, True])
def test_cancel_sends_sigint_and_reports_130(qtbot, fake_cli, tmp_path, detached):
    runner = JobRunner()
    seen = _collect(runner)
    runner.start(["--wait"], detached_log=tmp_path / "job" if detached else None)
    qtbot.waitUntil(lambda: len(seen["progress"]) == 3, timeout=20000)
    with qtbot.waitSignal(runner.finished, timeout=20000) as blocker:
        runner.cancel()
    assert blocker.args == [130]
    assert seen["messages"][-1] == "checkpoint saved"  # the child handled SIGINT, it was not killed


def test_a_command_that_cannot_start_reports_an_error(qtbot, monkeypatch):
    monkeypatch.setattr(job_runner, "_command_argv", lambda args: ["/nonexistent/python", *args])
    runner = JobRunner()
    seen = _collect(runner)
    with qtbot.waitSignal(runner.finished, timeout=10000) as blocker:
        runner.start(["x"])
    assert blocker.args == [-1] and seen["errors"]
