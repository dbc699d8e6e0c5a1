"""The training loop: data, steps, logs, samples, checkpoints, exact resume, Ctrl+C.

A run is a pure function of its config and seed: the data order is a permutation of
(seed, epoch), a data item is a pure function of (seed, epoch, index), and a checkpoint
carries every RNG, optimiser, scheduler, scaler and recipe state. So ``--resume`` continues
with the same losses an uninterrupted run would have logged (bitwise on the same machine with
``--deterministic``).
"""

from __future__ import annotations

import datetime as _dt
import json
import shutil
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from gantrans import __version__
from gantrans.errors import CheckpointError, ConfigError, GantransError
from gantrans.fileio import atomic_write
from gantrans.recipe import DataSpec, Recipe, get_recipe
from gantrans.runs import CONFIG_FILE, SAMPLES_DIR
from gantrans.training import devices
from gantrans.training import distributed as D
from gantrans.training.checkpoint import (
    CHECKPOINT_DIR,
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    LATEST,
    atomic_save,
    epoch_filename,
    load_checkpoint,
)
from gantrans.training.config import RESUMABLE_OVERRIDES, TrainConfig
from gantrans.training.engine import Engine, adam_impl, build_networks, move_batch
from gantrans.training.logger import RunLogger, truncate_metrics
from gantrans.training.rng import capture_rng, restore_rng, seed_everything
from gantrans.training.sampler import ResumableBatchSampler
from gantrans.training.samples import render_rows, save_grid
from gantrans.training.schedules import LinearDecay, make_scheduler

DatasetOpener = Callable[..., Any]


class TrainingInterrupted(GantransError):
    """Ctrl+C (SIGINT) or SIGTERM: a checkpoint was saved and the run can be resumed."""

    def __init__(self, step: int, run_dir: Path):
        self.step, self.run_dir = step, run_dir
        super().__init__(f"interrupted at step {step}; checkpoint saved, resume with "
                         f"'gantrans train --resume {run_dir}'")


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    epoch: int
    skipped: int = 0


def default_opener() -> DatasetOpener:
    from gantrans.data import open_dataset

    return open_dataset


def resume_config(path: str | Path, overrides: dict[str, Any] | None = None) -> tuple[TrainConfig, dict[str, Any], Path]:
    """The config saved in a run's latest checkpoint with allowed ``overrides`` on top."""
    ckpt = load_checkpoint(path)
    file = Path(ckpt["_path"])
    run_dir = file.parent.parent if file.parent.name == CHECKPOINT_DIR else None
    if run_dir is None or not (run_dir / CONFIG_FILE).is_file():
        raise CheckpointError(f"{file}: --resume needs a run directory (runs/NAME) or a checkpoint inside one")
    config = TrainConfig.from_dict(ckpt["config"], source=str(file))
    overrides = dict(overrides or {})
    refused = sorted(k for k in overrides if k not in RESUMABLE_OVERRIDES)
    if refused:
        raise ConfigError(f"--resume {run_dir}: {', '.join(refused)} cannot change when resuming "
                          f"(start a new run instead)")
    config.update(overrides, source="command line")
    return config, ckpt, run_dir


class Trainer:
    """Trains ``config.recipe`` on ``config.data``; :meth:`run` returns when done or raises.

    ``open_dataset`` defaults to :func:`gantrans.data.open_dataset`; tests pass their own.
    ``checkpoint`` (with ``run_dir``) resumes a run, see :func:`resume_config`.
    """

    def __init__(self, config: TrainConfig, *, open_dataset: DatasetOpener | None = None,
                 checkpoint: dict[str, Any] | None = None, run_dir: Path | None = None,
                 echo: Callable[[str], None] | None = None, verbose: bool = False):
        config.validate()
        if not config.recipe or not config.data:
            raise ConfigError("a recipe and --data are required")
        self.config = config
        self.open_dataset = open_dataset
        self.ckpt = checkpoint
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self._echo = echo or (lambda line: print(line, file=sys.stderr, flush=True))
        self.verbose = verbose
        self._stop = False
        self.epoch = self.step = self.epoch_step = 0

    # -- setup ----------------------------------------------------------------------------
    def _say(self, line: str) -> None:
        if self.dist.is_main:
            if getattr(self, "log", None) is not None:
                self.log.write(line)
            else:
                self._echo(line)

    def _open_data(self, recipe_cls: type[Recipe]) -> tuple[Any, Any]:
        c = self.config
        opener = self.open_dataset or default_opener()
        common = dict(accepted_kinds=recipe_cls.data_kinds, data_format=c.data_format, split="train",
                      load_size=c.resolved_load_size, crop_size=c.crop_size, preprocess=c.preprocess,
                      channels=None, serial=False, seed=c.seed, size_multiple=_size_multiple(recipe_cls, c.model))
        if c.max_items is not None:
            common["max_items"] = c.max_items
        train = opener(c.data, flip=c.flip, train=True, **common)
        fixed = opener(c.data, flip=False, train=False, **common) if c.samples > 0 else None
        if len(train) == 0:
            raise ConfigError(f"--data {c.data}: the data set is empty")
        return train, fixed

    def _setup(self) -> None:
        c = self.config
        self.dist = D.env_context()
        self.device = devices.pick_device(c.device, self.dist.local_rank if self.dist.enabled else None)
        D.init_process_group(self.dist, self.device)
        if c.threads:
            torch.set_num_threads(c.threads)
        self.precision = devices.pick_precision(c.precision, self.device)
        devices.configure_backends(self.device, c.deterministic)
        seed_everything(c.seed)
        recipe_cls = get_recipe(c.recipe)
        self.train_ds, self.fixed_ds = self._open_data(recipe_cls)
        spec = DataSpec.from_dict(self.ckpt["data"]) if self.ckpt else self.train_ds.spec
        self.recipe = recipe_cls(c.model, spec)
        nets = build_networks(self.recipe, c.seed)
        if self.ckpt:
            for key, state in self.ckpt["networks"].items():
                if key not in nets:
                    raise CheckpointError(f"{self.ckpt['_path']}: network '{key}' is not part of recipe '{c.recipe}'")
                nets[key].load_state_dict(state)
        self.engine = Engine(self.recipe, nets, self.device, self.precision, dist_ctx=self.dist,
                             compile=c.compile, skip_nonfinite=c.skip_nonfinite)
        self.batch_note = ""
        per_rank = -(-len(self.train_ds) // self.dist.world_size)
        if c.batch_size > per_rank:  # a batch larger than the data set: one batch of everything
            self.batch_note = (f"batch {per_rank} (the data set has {len(self.train_ds)} images; "
                               f"{c.batch_size} asked)")
            c.batch_size = per_rank
        self.sampler = ResumableBatchSampler(len(self.train_ds), c.batch_size, seed=c.seed, rank=self.dist.rank,
                                             world_size=self.dist.world_size)
        self.length_epochs = self._length_epochs()
        n_epochs, n_decay = c.schedule_split(self.length_epochs)
        self.schedulers = {name: make_scheduler(opt, c.lr_policy, epochs=self.length_epochs, n_epochs=n_epochs,
                                                n_epochs_decay=n_decay, lr_decay_iters=c.lr_decay_iters)
                           for name, opt in self.engine.optimizers.items()}
        if self.ckpt:
            self._restore(self.ckpt)
            self.ckpt = {"_path": self.ckpt.get("_path")}  # drop the loaded tensors, keep "resumed"
        else:
            self._create_run_dir()
        self._write_config()

    def _length_epochs(self) -> int:
        """The run's length in epochs: ``epochs``, or fewer when ``max_steps`` ends it first."""
        c = self.config
        epochs = c.total_epochs
        if c.max_steps is not None:
            epochs = min(epochs, -(-c.max_steps // max(1, len(self.sampler))))
        return max(1, epochs)

    def _create_run_dir(self) -> None:
        c = self.config
        name = c.name or f"{c.recipe}-{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"
        if self.dist.enabled:  # one name for all ranks, rank 0's clock decides
            box = [name]
            torch.distributed.broadcast_object_list(box, src=0)
            name = box[0]
        c.name = name
        self.run_dir = Path(c.runs_dir) / name
        problem = ""
        if self.dist.is_main:
            if self.run_dir.exists():
                problem = (f"{self.run_dir} already exists; choose another --name, or continue it "
                           f"with --resume {self.run_dir}")
            else:
                self.run_dir.mkdir(parents=True)
        if self.dist.enabled:  # every rank fails together rather than waiting for rank 0
            box = [problem]
            torch.distributed.broadcast_object_list(box, src=0)
            problem = box[0]
        if problem:
            raise ConfigError(problem)

    def _write_config(self) -> None:
        if not self.dist.is_main:
            return
        data = self.config.as_dict()
        data["model"] = _jsonable(self.recipe.config)
        data["resolved"] = {"device": str(self.device), "precision": self.precision,
                            "world_size": self.dist.world_size, "data": self.recipe.data.as_dict(),
                            "gantrans_version": __version__}
        with atomic_write(self.run_dir / CONFIG_FILE, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(data, indent=2, default=str) + "\n")

    def _restore(self, ckpt: dict[str, Any]) -> None:
        c = self.config
        for name, opt in self.engine.optimizers.items():
            impl = adam_impl(opt)  # this device's choice, not the one the checkpoint was written on
            opt.load_state_dict(ckpt["optimizers"][name])
            for group in opt.param_groups:
                group.update(impl)
        n_epochs, n_decay = c.schedule_split(self.length_epochs)
        for name, sched in self.schedulers.items():
            sched.load_state_dict(ckpt["schedulers"][name])
            # Settings come from the (possibly extended) config, not the old run, and take
            # effect now: an extended run's rate follows the new length from its first step.
            for fn in getattr(sched, "lr_lambdas", []):
                if isinstance(fn, LinearDecay):
                    fn.n_epochs, fn.n_epochs_decay = n_epochs, n_decay
            if hasattr(sched, "T_max"):
                sched.T_max = max(1, self.length_epochs)
            if isinstance(sched, torch.optim.lr_scheduler.LambdaLR):
                for group, base, fn in zip(sched.optimizer.param_groups, sched.base_lrs, sched.lr_lambdas):
                    group["lr"] = base * fn(sched.last_epoch)
        if self.engine.scaler is not None and ckpt.get("scaler"):
            self.engine.scaler.load_state_dict(ckpt["scaler"])
        self.recipe.load_state_dict(ckpt.get("recipe_state") or {})
        self.epoch, self.step, self.epoch_step = int(ckpt["epoch"]), int(ckpt["step"]), int(ckpt["epoch_step"])
        self.engine.skipped = int(ckpt.get("skipped", 0))
        if self.dist.is_main:
            truncate_metrics(self.run_dir, self.step)
        restore_rng(ckpt["rng"])

    # -- checkpoints -----------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        from gantrans.plugins import get_registries

        origin = get_registries().models.get(self.config.recipe).origin
        e = self.engine
        return {
            "format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_VERSION, "gantrans_version": __version__,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "run_name": self.run_dir.name,
            "recipe": {"name": self.config.recipe, **origin.as_dict()},
            "model_config": _jsonable(self.recipe.config), "data": self.recipe.data.as_dict(),
            "network_specs": _jsonable(self.recipe.network_specs), "config": self.config.as_dict(),
            "networks": {k: net.state_dict() for k, net in e.nets.items()},
            "optimizers": {k: opt.state_dict() for k, opt in e.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "scaler": e.scaler.state_dict() if e.scaler is not None else None,
            "recipe_state": self.recipe.state_dict(), "rng": capture_rng(),
            "epoch": self.epoch, "step": self.step, "epoch_step": self.epoch_step, "skipped": e.skipped,
        }

    def save_checkpoint(self, epoch_file: bool = False) -> Path | None:
        """Write ``latest.pt`` (rank 0 only) and, at an epoch end, a kept copy; prune old copies."""
        if not self.dist.is_main:
            return None
        folder = self.run_dir / CHECKPOINT_DIR
        latest = atomic_save(self.state(), folder / LATEST)
        self._saved_step = self.step
        if epoch_file and self.config.keep_epochs > 0:
            with atomic_write(folder / epoch_filename(self.epoch)) as fh, open(latest, "rb") as src:
                shutil.copyfileobj(src, fh)
            kept = sorted(folder.glob("epoch_*.pt"))
            for old in kept[: max(0, len(kept) - self.config.keep_epochs)]:
                old.unlink(missing_ok=True)
        return latest

    # -- the loop ----------------------------------------------------------------------------
    def _loader(self, epoch: int) -> DataLoader:
        c = self.config
        self.train_ds.set_epoch(epoch)
        self.sampler.set_epoch(epoch, self.epoch_step)
        g = torch.Generator()
        g.manual_seed(c.seed * 7919 + epoch)
        seed = c.seed
        return DataLoader(self.train_ds, batch_sampler=self.sampler, num_workers=c.workers,
                          pin_memory=self.device.type == "cuda", generator=g,
                          worker_init_fn=_WorkerSeed(seed, epoch), persistent_workers=False)

    def _fixed_batch(self) -> Any:
        if self.fixed_ds is None:
            return None
        self.fixed_ds.set_epoch(0)
        n = min(self.config.samples, len(self.fixed_ds))
        batch = torch.utils.data.default_collate([self.fixed_ds[i] for i in range(n)])
        return move_batch(batch, self.device, self.engine.channels_last)

    def _write_samples(self, name: str | None = None) -> None:
        """A sample grid: ``epoch_NNNN.png`` at an epoch end, ``step_NNNNNNN.png`` between."""
        if not self.dist.is_main or self._fixed is None:
            return
        rows = render_rows(self.recipe, self._fixed, list(self.engine.nets.values()), seed=self.config.seed)
        path = save_grid(rows, self.run_dir / SAMPLES_DIR / (name or f"epoch_{self.epoch:04d}.png"))
        self._grid_step = self.step
        self.log.image("samples", path, self.step)

    def _on_signal(self, signum, frame) -> None:  # noqa: ARG002
        self._stop = True
        signal.signal(signum, signal.SIG_DFL if signum != signal.SIGINT else signal.default_int_handler)

    def run(self) -> TrainResult:
        # Process-wide switches --deterministic flips; restored so an embedding process is unchanged.
        saved = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
                 torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic)
        try:
            return self._run()
        finally:
            torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
            torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved[2], saved[3]

    def _run(self) -> TrainResult:
        self._setup()
        c = self.config
        steps_per_epoch = len(self.sampler)
        total = c.total_epochs * steps_per_epoch
        if c.max_steps is not None:
            total = min(total, c.max_steps)
        self.log = RunLogger(self.run_dir, enabled=self.dist.is_main, tensorboard=c.tensorboard,
                             total_steps=total, initial_step=min(self.step, total))
        for line in self._start_lines(steps_per_epoch, total):
            self._say(line)
        self._fixed = self._fixed_batch() if self.dist.is_main else None
        self._saved_step = self.step if self.ckpt else -1
        handlers = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                handlers[sig] = signal.signal(sig, self._on_signal)
        try:
            self._loop(steps_per_epoch, total)
        finally:
            for sig, old in handlers.items():
                signal.signal(sig, old)
            self.log.close()
        D.barrier(self.dist)
        return TrainResult(self.run_dir, self.step, self.epoch, self.engine.skipped)

    def _start_lines(self, steps_per_epoch: int, total: int) -> list[str]:
        """What runs where, and where to look while it does."""
        c = self.config
        device = devices.describe_device(self.device, verbose=self.verbose)
        procs = f", {self.dist.world_size} processes" if self.dist.enabled else ""
        batch = self.batch_note or f"batch {c.batch_size}"
        length = f"{c.total_epochs} epochs of {steps_per_epoch} steps"
        if total < c.total_epochs * steps_per_epoch:
            length += f", stopping at step {total}"
        verb = "resuming" if self.ckpt else "training"
        lines = [f"gantrans: {verb} '{c.recipe}' on {device}{procs}, precision {self.precision}, {batch}, {length}"]
        samples = [f"every {c.sample_every_epoch} epoch(s)"] if c.sample_every_epoch else []
        if c.sample_every_steps:
            samples.append(f"every {c.sample_every_steps} steps")
        lines.append(f"  run folder:   {self.run_dir}")
        if c.samples and samples:
            lines.append(f"  sample grids: {self.run_dir / SAMPLES_DIR} ({', '.join(samples)})")
        if self.log.tensorboard_dir is not None:
            lines.append(f"  TensorBoard:  tensorboard --logdir {self.log.tensorboard_dir}")
        lines.append(f"  Ctrl+C saves a checkpoint; continue with: gantrans train --resume {self.run_dir}")
        return lines

    def _loop(self, steps_per_epoch: int, total: int) -> None:
        c = self.config
        if self.step >= total:
            run = self.run_dir
            if c.max_steps is not None and c.max_steps <= self.step:
                how = f"--max-steps N (N > {self.step})"
            else:
                how = f"--epochs N (N > {self.epoch})"
            self._say(f"gantrans: nothing to do: {self.step} steps done, the run asks for {total}; "
                      f"to train longer: gantrans train --resume {run} {how}")
            return
        per_step_images = c.batch_size * self.dist.world_size
        t0, n0 = time.perf_counter(), 0
        while self.step < total:
            for raw in self._loader(self.epoch):
                batch = move_batch(raw, self.device, self.engine.channels_last)
                result = self.engine.step(batch, self.step)
                self.step += 1
                self.epoch_step += 1
                n0 += 1
                self.log.progress(1, result.terms, epoch=self.epoch + 1, epochs=c.total_epochs)
                if c.log_every and (self.step % c.log_every == 0 or self.step == total):
                    elapsed = max(time.perf_counter() - t0, 1e-9)
                    row = {"step": self.step, "epoch": self.epoch, "epoch_step": self.epoch_step,
                           **result.terms, **self.engine.learning_rates(),
                           "images_per_s": round(n0 * per_step_images / elapsed, 4), "time": time.time()}
                    if c.skip_nonfinite:
                        row["nonfinite_skipped"] = self.engine.skipped
                    self.log.log(row)
                    t0, n0 = time.perf_counter(), 0
                if D.any_rank(self._stop, self.device, self.dist):
                    self.save_checkpoint()
                    raise TrainingInterrupted(self.step, self.run_dir)
                if c.checkpoint_every and self.step % c.checkpoint_every == 0:
                    self.save_checkpoint()
                if c.sample_every_steps and self.step % c.sample_every_steps == 0 and self.step < total:
                    self._write_samples(f"step_{self.step:07d}.png")
                if self.step >= total and self.epoch_step < steps_per_epoch:
                    break
            if self.epoch_step >= steps_per_epoch:
                self.epoch += 1
                self.epoch_step = 0
                with warnings.catch_warnings():
                    # A run resumed right at an epoch end steps the schedulers before any
                    # optimiser step of this process; the order across the run is still right.
                    warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler.step\(\)`")
                    for sched in self.schedulers.values():
                        sched.step()
                if c.sample_every_epoch and self.epoch % c.sample_every_epoch == 0:
                    self._write_samples()
                self.save_checkpoint(epoch_file=True)
            if self.step >= total:
                break
        if getattr(self, "_grid_step", None) != self.step and (c.sample_every_epoch or c.sample_every_steps):
            self._write_samples(f"step_{self.step:07d}.png")  # the final state always gets a grid
        if self._saved_step != self.step:
            self.save_checkpoint()


class _WorkerSeed:
    """Seeds Python and NumPy in each loader worker from (seed, epoch, worker id)."""

    def __init__(self, seed: int, epoch: int):
        self.seed, self.epoch = seed, epoch

    def __call__(self, worker_id: int) -> None:
        import random

        # Ctrl+C reaches the whole process group: the main process saves a checkpoint and
        # shuts the workers down; a worker dying on its own would abort that with an error.
        signal.signal(signal.SIGINT, signal.SIG_IGN)

        import numpy as np

        s = (self.seed * 1_000_003 + self.epoch * 1009 + worker_id) % 2**32
        random.seed(s)
        np.random.seed(s)
        torch.manual_seed(s)


def _size_multiple(recipe_cls: type[Recipe], model: dict[str, Any]) -> int:
    """The generator's spatial size rule, when the recipe takes a ``generator`` option."""
    name = model.get("generator", recipe_cls.defaults.get("generator"))
    if not isinstance(name, str):
        return 1
    from gantrans.plugins import get_registries

    networks = get_registries().networks
    if name not in networks:
        return 1
    return int(networks.get(name).meta.get("size_multiple", 1) or 1)


def _jsonable(obj: Any) -> Any:
    """Plain JSON types (tuples become lists), so configs survive JSON and ``weights_only`` loading."""
    return json.loads(json.dumps(obj, default=str))


def train(config: TrainConfig, **kwargs: Any) -> TrainResult:
    """Train a fresh run (see :class:`Trainer` for the keyword arguments)."""
    return Trainer(config, **kwargs).run()


def resume(path: str | Path, overrides: dict[str, Any] | None = None, **kwargs: Any) -> TrainResult:
    """Continue the run at ``path`` (a run directory) exactly where its latest checkpoint left it."""
    config, ckpt, run_dir = resume_config(path, overrides)
    return Trainer(config, checkpoint=ckpt, run_dir=run_dir, **kwargs).run()


__all__ = ["DatasetOpener", "TrainResult", "Trainer", "TrainingInterrupted", "resume", "resume_config",
           "train"]
