"""Image-to-image translation with a loaded model: arrays, files and whole folders.

:class:`Translator` is what the CLI and the GUI drive. It is safe to call from one worker
thread at a time; cancellation and progress go through :mod:`gantrans.inference.progress`.
For folders, decoding and encoding run in a small thread pool with a bounded queue, so the
next images are decoded and the previous ones encoded while the model runs (ONNX Runtime and
Pillow release the GIL).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort

from gantrans.errors import Cancelled, ConfigError, GantransError, ModelError
from gantrans.fileio import OVERWRITE_HINT
from gantrans.images import LoadedImage, load_image, save_image
from gantrans.inference import memory, processing
from gantrans.inference.files import FileJob
from gantrans.inference.model import Model, Overrides, load_model
from gantrans.inference.progress import CancelToken, Progress, ProgressCallback, check
from gantrans.inference.tiling import count_tiles, run_tiled

DEFAULT_TILE = 512
DEFAULT_TILE_LIMIT = 1024  # longest side above which a tiling-friendly model is tiled


class TilingNeeded(ConfigError):
    """An image over the memory bound, on a model that discourages tiling: tiles are the user's call.

    Such a model normalises each image as a whole, so tiles can differ where they meet; the
    command line asks for ``--tile``, the desktop app for a tile size in its Tiling menu
    (``problem`` and ``caveat`` let each say it in its own words).
    """

    caveat = "this model discourages tiling: results may show differences between tiles"

    def __init__(self, problem: str, tile: int):
        self.problem, self.tile = problem, tile  # ``tile``: the largest tile within the memory limit
        super().__init__(f"{problem}; pass --tile {tile} to tile it ({self.caveat})")


@dataclass
class TranslateOptions:
    """How images are fitted to the model and split up.

    ``tile``: None decides automatically (tile above the size limit when the model allows it,
    or when the memory bound requires it), 0 never tiles, N forces N-pixel tiles.
    ``memory_limit``: bytes one model run may need (None: :func:`memory.default_memory_limit`).
    """

    resize: str = "pad"
    tile: int | None = None
    tile_overlap: int | None = None
    blend: str = "linear"
    batch_size: int = 1
    memory_limit: int | None = None
    keep_16bit: bool = True


@dataclass
class TranslatedImage:
    pixels: np.ndarray  # HxWxC uint8 or uint16
    alpha: np.ndarray | None


@dataclass
class BatchReport:
    """What a folder run did: every file is either written or failed (with one line)."""

    written: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    total: int = 0
    # the error behind a failed file, where one was raised: the line in ``failed`` is worded for
    # the command line, and a front end words some errors its own way (``TilingNeeded``)
    causes: dict[Path, BaseException] = field(default_factory=dict, repr=False)
    # written, with something the user should know (an animated GIF: only its first frame), a line each
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


@dataclass
class _Item:
    job: FileJob
    image: LoadedImage | None = None
    x: np.ndarray | None = None  # model-space HxWxC at the fed size
    plan: processing.SizePlan | None = None
    tile: int | None = None
    error: str | None = None
    cause: BaseException | None = None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class Translator:
    """Runs a ``translate`` model on arrays, files and folders."""

    def __init__(self, model: Model | str | os.PathLike, *, providers: Sequence[str] | None = None,
                 threads: int | None = None, overrides: Overrides | None = None,
                 options: TranslateOptions | None = None):
        self.model = model if isinstance(model, Model) else load_model(
            model, providers=providers, threads=threads, overrides=overrides)
        self.contract = self.model.contract
        if self.contract.task != "translate":
            raise ModelError(f"{self.model.path}: a '{self.contract.task}' model cannot translate images; "
                             f"use 'gantrans generate'")
        self.options = options or TranslateOptions()
        if self.options.batch_size < 1:
            raise ConfigError(f"--batch must be at least 1, got {self.options.batch_size}")
        tile, overlap = self.options.tile, self.options.tile_overlap
        if tile is not None and tile < 0:
            raise ConfigError(f"--tile must be 0 (never) or a positive size, got {tile}")
        if tile and tile < (self.contract.min_size or 1):  # silently raised, it ran for minutes and gave mush
            raise ConfigError(f"--tile {tile}: this model's smallest input is {self.contract.min_size} px; tiles of "
                              f"{DEFAULT_TILE} px or more keep the look of the whole image")
        if overlap is not None and overlap < 0:
            raise ConfigError(f"--tile-overlap must be 0 or more, got {overlap}")
        if tile and overlap is not None and overlap >= tile:
            raise ConfigError(f"--tile-overlap {overlap} must be smaller than the tile ({tile} px); a tile's overlap "
                              f"is its margin shared with the next one")
        first = self.model.inputs[0]
        self._dtype = np.float16 if first.type == "tensor(float16)" else np.float32
        static_batch = first.shape[0] if first.shape and isinstance(first.shape[0], int) else None
        self._max_batch = static_batch if static_batch and static_batch > 0 else None
        self._memory_limit = self.options.memory_limit or memory.default_memory_limit()
        # settings changed to fit the model, a line each (the command line prints them as notes)
        self.notes: list[str] = []
        m = max(1, int(self.contract.size_multiple or 1))
        if tile and tile % m:
            self.notes.append(f"--tile {tile} is used as {processing.round_up(tile, m)}: this model takes sides "
                              f"that are multiples of {m}")

    # -- model runs ----------------------------------------------------------------------
    def _run(self, nchw: np.ndarray, cancel: CancelToken | None = None) -> np.ndarray:
        options = ort.RunOptions()
        options.log_severity_level = 4  # its failure is raised below in one line; ONNX Runtime's log would repeat it
        remove = cancel.on_cancel(lambda: setattr(options, "terminate", True)) if cancel else None
        try:
            out = self.model.session.run([self.model.output_name],
                                         {self.model.input_name: nchw.astype(self._dtype, copy=False)},
                                         run_options=options)[0]
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own error types
            if cancel is not None and cancel.cancelled:
                raise Cancelled("translation cancelled") from None
            raise ModelError(f"{self.model.path}: inference failed on a {list(nchw.shape)} input "
                             f"({_one_line(exc)})") from None
        finally:
            if remove is not None:
                remove()
        if out.ndim != 4 or out.shape[2:] != nchw.shape[2:]:
            got = "x".join(str(d) for d in out.shape[2:][::-1]) if out.ndim == 4 else f"a {out.ndim}-d array"
            fix = ("re-export it: the export's parity check now catches this" if self.model.has_metadata else
                   "a model without gantrans metadata that needs sides of a multiple is given one with "
                   "--size-multiple N")
            raise ModelError(f"{self.model.path}: the model turned a {nchw.shape[3]}x{nchw.shape[2]} input into "
                             f"{got}; a translation model must keep the image size, so its output is refused ({fix})")
        return np.asarray(out, dtype=np.float32)

    def _prepare(self, pixels: np.ndarray) -> tuple[np.ndarray, processing.SizePlan, int | None]:
        """Model-space input at the fed size, the size plan and the tile size (None: whole)."""
        x = processing.fit_channels(processing.to_unit_float(pixels), self.contract.in_channels)
        plan = processing.plan_size(x.shape[0], x.shape[1], self.contract, self.options.resize)
        x = processing.to_model_range(processing.apply_plan(x, plan), self.contract.value_range)
        return x, plan, self.tile_for(plan.target_h, plan.target_w, plan.height, plan.width)

    def tile_for(self, height: int, width: int, src_h: int | None = None, src_w: int | None = None) -> int | None:
        """The tile size for an input fed at HxW, None to run it whole; errors above the bound."""
        c, opt = self.contract, self.options
        m = max(1, int(c.size_multiple or 1))
        if opt.tile:
            if c.tiling == "unsupported":
                raise ConfigError(f"{self.model.path}: this model does not support tiling")
            if c.fixed_size:
                raise ConfigError(f"{self.model.path}: a fixed-size model ({c.fixed_size}px) cannot be tiled")
            tile = processing.round_up(max(opt.tile, c.min_size or 1), m)
            need = memory.estimate_bytes(min(tile, height), min(tile, width), 1, c)
            if need > self._memory_limit:  # tiles are how an image keeps within the bound: theirs too
                fit = self._fitting_tile()
                note = (f"--tile {opt.tile} is lowered to {fit}: a {min(tile, width)}x{min(tile, height)} tile needs "
                        f"about {memory.format_bytes(need)}, over the limit of {memory.format_bytes(self._memory_limit)}"
                        f" (--max-memory)")
                if note not in self.notes:
                    self.notes.append(note)
                return fit
            return tile
        need = memory.estimate_bytes(height, width, 1, c)
        auto_ok = c.tiling == "ok" and not c.fixed_size and opt.tile is None
        limit = c.tile_size or DEFAULT_TILE_LIMIT
        if auto_ok and max(height, width) > limit:
            return processing.round_up(c.tile_size or DEFAULT_TILE, m)
        if need <= self._memory_limit:
            return None
        what = f"{src_w or width}x{src_h or height}"
        if auto_ok:
            return self._fitting_tile()
        problem = (f"a {what} image needs about {memory.format_bytes(need)}, over the limit of "
                   f"{memory.format_bytes(self._memory_limit)}")
        if c.tiling == "unsupported" or c.fixed_size:
            raise ConfigError(f"{problem}; this model does not support tiling")
        raise TilingNeeded(problem, self._fitting_tile())

    def _fitting_tile(self) -> int:
        """The largest tile (up to the default) whose run stays within the memory limit, on the
        model's size rule; never below its smallest input."""
        c = self.contract
        m = max(1, int(c.size_multiple or 1))
        side = int((self._memory_limit / memory.bytes_per_pixel(c)) ** 0.5)
        return max(processing.round_up(c.min_size or 1, m), (min(side, DEFAULT_TILE) // m) * m)

    def _overlap(self, tile: int) -> int:
        if self.options.tile_overlap is not None:
            return max(0, min(self.options.tile_overlap, tile - 1))
        if self.contract.tile_overlap is not None:
            return max(0, min(self.contract.tile_overlap, tile - 1))
        return max(8, tile // 8)

    def _infer_tiled(self, x: np.ndarray, tile: int, cancel: CancelToken | None,
                     on_tile=None) -> np.ndarray:
        return run_tiled(x, lambda t: self._run(t, cancel), tile, self._overlap(tile), self.options.blend,
                         cancel, on_tile)

    def _finish(self, y: np.ndarray, plan: processing.SizePlan) -> np.ndarray:
        """Model-space output at the fed size to [0, 1] at the input's size."""
        return processing.restore_plan(processing.from_model_range(y, self.contract.value_range), plan)

    # -- public API ----------------------------------------------------------------------
    def translate_array(self, pixels: np.ndarray, *, cancel: CancelToken | None = None,
                        on_tile=None) -> np.ndarray:
        """HxW(xC) uint8/uint16/float-in-[0,1] pixels to a float32 HxWxC' result in [0, 1]."""
        check(cancel, "translation")
        x, plan, tile = self._prepare(pixels)
        if tile is None:
            y = self._run(processing.to_nchw([x]), cancel)[0].transpose(1, 2, 0)
        else:
            y = self._infer_tiled(x, tile, cancel, on_tile)
        return self._finish(y, plan)

    def translate_image(self, image: LoadedImage, *, cancel: CancelToken | None = None,
                        on_tile=None) -> TranslatedImage:
        """A loaded image to output pixels in its bit depth, its alpha kept for re-attaching."""
        y = self.translate_array(image.pixels, cancel=cancel, on_tile=on_tile)
        return self._package(y, image)

    def _package(self, y01: np.ndarray, image: LoadedImage) -> TranslatedImage:
        dtype = np.uint16 if image.pixels.dtype == np.uint16 and self.options.keep_16bit else np.uint8
        alpha = image.alpha if self.contract.in_channels != 4 and y01.shape[2] != 4 else None
        if alpha is not None and alpha.dtype != dtype:
            alpha = processing.from_unit_float(processing.to_unit_float(alpha)[:, :, 0], dtype)
        return TranslatedImage(processing.from_unit_float(y01, dtype), alpha)

    def load(self, path: str | os.PathLike) -> LoadedImage:
        ch = self.contract.in_channels if self.contract.in_channels in (1, 3, 4) else 3
        return load_image(path, channels=ch, keep_16bit=self.options.keep_16bit)

    def translate_file(self, src: str | os.PathLike, dst: str | os.PathLike, *, overwrite: bool = False,
                       quality: int = 95, cancel: CancelToken | None = None) -> Path:
        """Translate one file to ``dst`` (atomic write; never replaces ``src``)."""
        report = self.translate_files([FileJob(Path(src), Path(dst))], overwrite=overwrite, quality=quality,
                                      cancel=cancel, workers=0)
        if report.failed:
            raise GantransError(report.failed[0][1])
        return report.written[0]

    def translate_files(self, jobs: Sequence[FileJob], *, overwrite: bool = False, quality: int = 95,
                        cancel: CancelToken | None = None, progress: ProgressCallback | None = None,
                        workers: int = 2, prefetch: int = 2) -> BatchReport:
        """Translate many files; one file's failure never stops the others.

        Raises :class:`~gantrans.errors.Cancelled` when ``cancel`` fires: files finished by
        then are written (atomically, so never partially), the rest are not started; the
        exception's ``report`` attribute is the :class:`BatchReport` up to that point.
        """
        return _FolderRun(self, list(jobs), overwrite, quality, cancel, progress, workers, prefetch).run()


class _FolderRun:
    """One pass over a file list: prefetching loader, model runs in this thread, async saver."""

    def __init__(self, tr: Translator, jobs: list[FileJob], overwrite: bool, quality: int,
                 cancel: CancelToken | None, progress: ProgressCallback | None, workers: int, prefetch: int):
        self.tr, self.jobs, self.overwrite, self.quality = tr, jobs, overwrite, quality
        self.cancel, self.progress = cancel, progress
        self.workers, self.prefetch = max(0, workers), max(1, prefetch)
        self.report = BatchReport(total=len(jobs))
        self.saves: deque[tuple[FileJob, Future]] = deque()
        self.done = 0
        inputs = {j.src.resolve() for j in jobs}
        self.inputs = inputs

    def _emit(self, current: Path | None, phase: str, tiles_done: int = 0, tiles_total: int = 0) -> None:
        if self.progress is not None:
            self.progress(Progress(self.done, self.report.total, None if current is None else str(current),
                                   phase, tiles_done, tiles_total))

    def _fail(self, job: FileJob, message: str, cause: BaseException | None = None) -> None:
        self.report.failed.append((job.src, message))
        if cause is not None:
            self.report.causes[job.src] = cause
        self.done += 1
        self._emit(job.src, "save")

    # -- stages (loader threads) ---------------------------------------------------------------
    def _load(self, job: FileJob) -> _Item:
        item = _Item(job)
        try:
            if job.dst.resolve() in self.inputs:
                raise ConfigError(f"{job.dst}: refusing to overwrite an input file")
            if not self.overwrite and os.path.lexists(job.dst):
                raise ConfigError(f"{job.dst}: already exists ({OVERWRITE_HINT})")
            item.image = self.tr.load(job.src)
            if item.image.frames > 1:
                self.report.notes.append(f"{job.src}: {item.image.frames} frames; only the first is translated")
            item.x, item.plan, item.tile = self.tr._prepare(item.image.pixels)
            small = self.tr.contract.min_size or 1
            if min(item.plan.height, item.plan.width) < small and item.plan.mode == "pad":
                self.report.notes.append(
                    f"{job.src}: {item.plan.width}x{item.plan.height}, below this model's {small} px minimum; it was "
                    f"padded to {item.plan.target_w}x{item.plan.target_h}, so most of what the model saw was padding")
        except GantransError as exc:
            msg = str(exc)
            item.error = msg if str(job.src) in msg or str(job.dst) in msg else f"{job.src}: {msg}"
            item.cause = exc
        except MemoryError:
            item.error = f"{job.src}: not enough memory to translate this image"
        except Exception as exc:  # noqa: BLE001 - one file's failure never stops the rest
            item.error = f"{job.src}: {_one_line(exc)}"
        return item

    def _save(self, job: FileJob, result: TranslatedImage) -> Path:
        save_image(result.pixels, job.dst, alpha=result.alpha, quality=self.quality, overwrite=self.overwrite)
        return job.dst

    # -- driver --------------------------------------------------------------------------------
    def _drain(self, block_until: int) -> None:
        """Collect finished saves (in order) until at most ``block_until`` are pending."""
        while self.saves and (len(self.saves) > block_until or self.saves[0][1].done()):
            job, fut = self.saves.popleft()
            try:
                self.report.written.append(fut.result())
            except GantransError as exc:
                self.report.failed.append((job.src, str(exc)))
            except Exception as exc:  # noqa: BLE001 - one file's failure never stops the rest
                self.report.failed.append((job.src, f"{job.dst}: cannot write ({_one_line(exc)})"))
            self.done += 1
            self._emit(job.src, "save")

    def _submit_save(self, pool: ThreadPoolExecutor | None, job: FileJob, result: TranslatedImage) -> None:
        if pool is None:
            fut: Future = Future()
            try:
                fut.set_result(self._save(job, result))
            except Exception as exc:  # noqa: BLE001
                fut.set_exception(exc)
        else:
            fut = pool.submit(self._save, job, result)
        self.saves.append((job, fut))
        self._drain(self.prefetch)

    def _infer_batch(self, pool, batch: list[_Item]) -> None:
        tr = self.tr
        for item in batch:
            self._emit(item.job.src, "infer")
        try:
            if len(batch) == 1 and batch[0].tile is not None:
                item = batch[0]
                y = [tr._infer_tiled(item.x, item.tile, self.cancel,
                                     lambda k, n, src=item.job.src: self._emit(src, "tile", k, n))]
            else:
                out = tr._run(processing.to_nchw([it.x for it in batch]), self.cancel)
                y = [o.transpose(1, 2, 0) for o in out]
        except Cancelled:
            raise
        except GantransError as exc:
            for item in batch:
                self._fail(item.job, f"{item.job.src}: {exc}", exc)
            return
        for item, yi in zip(batch, y):
            result = tr._package(tr._finish(yi, item.plan), item.image)
            item.x = item.image = None  # free memory before the save queue holds the result
            self._submit_save(pool, item.job, result)

    def run(self) -> BatchReport:
        tr = self.tr
        max_batch = tr.options.batch_size if tr._max_batch is None else min(tr.options.batch_size, tr._max_batch)
        loader = ThreadPoolExecutor(self.workers, thread_name_prefix="gantrans-load") if self.workers else None
        saver = ThreadPoolExecutor(1, thread_name_prefix="gantrans-save") if self.workers else None
        pending: deque[Future | _Item] = deque()
        queue = iter(self.jobs)

        def fill() -> None:
            while len(pending) < self.prefetch + max_batch:
                job = next(queue, None)
                if job is None:
                    return
                pending.append(loader.submit(self._load, job) if loader else self._load(job))

        def take() -> _Item:
            head = pending.popleft()
            return head.result() if isinstance(head, Future) else head

        try:
            self._emit(None, "load")
            fill()
            carry: _Item | None = None
            while pending or carry is not None:
                check(self.cancel, "translation")
                batch: list[_Item] = []
                while len(batch) < max_batch and (carry is not None or pending):
                    item = carry if carry is not None else take()
                    carry = None
                    fill()
                    if item.error is not None:
                        self._fail(item.job, item.error, item.cause)
                        continue
                    if batch and (item.tile is not None or batch[0].tile is not None
                                  or item.x.shape != batch[0].x.shape):
                        carry = item
                        break
                    batch.append(item)
                    if item.tile is not None:
                        break
                if batch:
                    check(self.cancel, "translation")
                    self._infer_batch(saver, batch)
            self._drain(0)
        except BaseException as exc:
            for p in pending:
                if isinstance(p, Future):
                    p.cancel()
            self._drain(0)  # finished results are written whole; nothing is left half-done
            if isinstance(exc, Cancelled):
                exc.report = self.report  # what was written and what failed before the cancel
            raise
        finally:
            if loader:
                loader.shutdown(wait=True, cancel_futures=True)
            if saver:
                saver.shutdown(wait=True)
        self._emit(None, "done")
        return self.report


def count_file_tiles(translator: Translator, height: int, width: int) -> int:
    """How many tiles an HxW image is split into (1 when it runs whole)."""
    plan = processing.plan_size(height, width, translator.contract, translator.options.resize)
    tile = translator.tile_for(plan.target_h, plan.target_w)
    return 1 if tile is None else count_tiles(plan.target_h, plan.target_w, tile, translator._overlap(tile))
