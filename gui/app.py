"""Start the desktop application: ``gantrans-gui [FILES]`` or ``gantrans gui [FILES]``.

``--startup-time`` shows the window, prints how long that took (from process start where the OS
tells, else from the first line of this module) as JSON and quits: the figure behind the
README's start-up claim. Nothing heavy (onnxruntime, numpy, the first model) is imported before
the window is on screen; models and sessions load in worker threads.
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from collections.abc import Sequence  # noqa: E402


def _process_age() -> float | None:
    """Seconds since this process started (Linux /proc), to count the interpreter's start too."""
    try:
        with open("/proc/self/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        start_ticks = int(fields[19])
        with open("/proc/uptime", encoding="ascii") as fh:
            uptime = float(fh.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gantrans-gui", description="The gantrans desktop application.")
    add_arguments(p)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="*", metavar="FILE",
                   help="images to open in the Translate view, .onnx models (or folders of them) to add to "
                        "the library, a folder of images as the Batch view's input")
    p.add_argument("--startup-time", action="store_true",
                   help="show the window, print the start-up time as JSON and quit")
    p.add_argument("--bench-translate", default=None, metavar="MODEL.onnx",
                   help="time one SIZE x SIZE translation by the engine alone and through the Translate view "
                        "(request to pixels on screen) in this process, print JSON and quit")
    p.add_argument("--size", type=int, default=512, help="image size for --bench-translate (default 512)")
    p.add_argument("--repeats", type=int, default=5, help="runs of each kind for --bench-translate (default 5)")


def run(args: argparse.Namespace) -> int:
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    if args.bench_translate:  # a model that cannot be timed is said before any window opens
        from gantrans.errors import GantransError
        from gantrans.inference import Translator

        try:
            Translator(args.bench_translate)
        except GantransError as exc:
            print(f"gantrans: error: {exc}", file=sys.stderr)
            return 1
    outcome = {"code": 0}

    if QApplication.instance() is None:
        # Qt 6 is high-DPI aware; pass fractional scale factors (150 %) through instead of rounding.
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("gantrans")
    app.setOrganizationName("gantrans")
    app.setApplicationDisplayName("gantrans")
    from gantrans.inference import cpu_tuning
    from gantrans_gui.main_window import MainWindow

    cpu_tuning.IN_CHILD = True  # never import onnx in the window's process (see cpu_tuning)
    window = MainWindow()
    _install_excepthook(window)
    window.show()
    if args.files:
        QTimer.singleShot(0, lambda: window.open_paths(list(args.files)))
    if args.startup_time:
        def report() -> None:
            now = time.perf_counter()
            age = _process_age()
            base = age if age is not None else now - _T0
            shown = base - (now - (window.shown_at or now))
            cpu = time.process_time()  # CPU seconds so far: the figure a busy machine does not inflate
            print(json.dumps({"window_shown_s": round(shown, 3), "first_view_ready_s": round(base, 3),
                              "cpu_s": round(cpu, 3),
                              "measured_from": "process start" if age is not None else "gui import",
                              "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}),
                  flush=True)
            window.close()
            app.quit()

        window.ready.connect(lambda: QTimer.singleShot(0, report))
    if args.bench_translate:
        def bench() -> None:
            from gantrans_gui.bench import bench_translate

            try:
                print(json.dumps(bench_translate(window, args.bench_translate, args.size, args.repeats)), flush=True)
            except (Exception, SystemExit) as exc:  # noqa: BLE001 - said in one line, and the exit code says it
                print(f"gantrans: error: {exc}", file=sys.stderr)
                outcome["code"] = 1
            finally:
                window.close()
                app.quit()

        QTimer.singleShot(0, bench)
    code = int(app.exec())
    return outcome["code"] or code


def _install_excepthook(window) -> None:
    """An exception escaping a slot shows the error dialog; the app keeps running."""
    from gantrans_gui import workers

    previous = sys.excepthook

    def hook(exc_type, exc, tb):
        if issubclass(exc_type, KeyboardInterrupt):
            previous(exc_type, exc, tb)
            return
        try:
            window.show_error(workers.one_line(exc), workers.details(exc))
        except Exception:  # noqa: BLE001 - never recurse into the hook
            previous(exc_type, exc, tb)

    sys.excepthook = hook


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import importlib.util

    missing = [m for m in ("PySide6", "superqt", "qtawesome") if importlib.util.find_spec(m) is None]
    if missing:
        print(f"gantrans-gui: the desktop app needs {', '.join(missing)}: pip install 'gantrans[gui]'",
              file=sys.stderr)
        return 1
    return run(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
