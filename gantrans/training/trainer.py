"""The training loop: data, steps, logs, samples, checkpoints, exact resume, Ctrl+C.

A run is a pure function of its config and seed: the data order is a permutation of
(seed, epoch), a data item is a pure function of (seed, epoch, index), and a checkpoint
carries every RNG, optimiser, scheduler, scaler and recipe state. So ``--resume`` continues
with the same losses an uninterrupted run would have logged (bitwise on the same machine with
``--deterministic``).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shlex
import shutil
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from gantrans import __version__, console, events
from gantrans import runs as R
from gantrans.checkpoint import require_plugins
from gantrans.data.formats import SkipReport
from gantrans.errors import CheckpointError, ConfigError, DataError, DiskFullError, GantransError
from gantrans.fileio import atomic_write, not_writable
from gantrans.recipe import DataSpec, Recipe, get_recipe
from gantrans.training import auto_precision, devices
from gantrans.training import distributed as D
from gantrans.training.checkpoint import (
    CHECKPOINT_DIR,
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    LATEST,
    atomic_save,
    epoch_filename,
    load_for_resume,
)
from gantrans.training.config import RESUMABLE_OVERRIDES, TrainConfig
from gantrans.training.engine import (
    Engine,
    NonFiniteLoss,
    adam_impl,
    build_networks,
    check_generator_sizes,
    first_step_error,
    move_batch,
)
from gantrans.training.image_size import (
    DEFAULT_CROP_SIZE,
    choose_crop_size,
    kept_size,
    load_size_for,
    other_sizes,
    taken_size,
)
from gantrans.training.logger import RunLogger
from gantrans.training.rng import capture_rng, restore_rng, seed_everything
from gantrans.training.sampler import ResumableBatchSampler
from gantrans.training.samples import render_rows, save_grid
from gantrans.training.schedules import LinearDecay, make_scheduler

DatasetOpener = Callable[..., Any]


class PeerLost(GantransError):
    """Another process of a torchrun job went away: this one cannot go on, the run can resume."""


class TrainingInterrupted(GantransError):
    """Ctrl+C (SIGINT) or SIGTERM: a checkpoint was saved and the run can be resumed.

    ``exit_code`` is the shell's for the signal: 130 for SIGINT, 143 for SIGTERM.
    """

    def __init__(self, step: int, run_dir: Path, signum: int = signal.SIGINT, command: str | None = None):
        self.step, self.run_dir, self.signum = step, run_dir, int(signum)
        self.exit_code = 128 + self.signum
        super().__init__(f"interrupted at step {step}; checkpoint saved, resume with "
                         f"'{command or resume_command(run_dir)}'")


def resume_command(run_dir: Path, world_size: int = 1, per_node: int | None = None) -> str:
    """The command that continues a run: as many processes as trained it (its steps count per
    process, so a run of two processes resumed by one would train twice the images per epoch)."""
    run = shlex.quote(str(run_dir))
    if world_size <= 1:
        return f"gantrans train --resume {run}"
    per_node = per_node or world_size
    nodes = f"--nnodes {world_size // per_node} " if per_node < world_size else ""
    return f"torchrun {nodes}--nproc-per-node {per_node} -m gantrans train --resume {run}"


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    epoch: int
    skipped: int = 0


def default_opener() -> DatasetOpener:
    from gantrans.data import open_dataset

    return open_dataset


def _claim_run_dir(runs_dir: Path, name: str) -> str:
    """Create ``runs_dir/name`` (or ``name-2``, ``name-3`` ... when taken) and return the name used.

    Creating is claiming: of two trainings started in the same second, each gets its own folder.
    """
    candidate, k = name, 1
    while True:
        try:
            (runs_dir / candidate).mkdir(parents=True)
            return candidate
        except FileExistsError:
            k += 1
            candidate = f"{name}-{k}"


def _name_taken(run_dir: Path) -> str:
    """Why a new run cannot have ``run_dir``, or "" when it is free."""
    if run_dir.exists() and not R.is_run_dir(run_dir):  # not a run: nothing to continue
        return (f"{run_dir} already exists and is not a gantrans run; choose another --name, or "
                f"remove that folder to use its name")
    if run_dir.exists():
        return f"{run_dir} already exists; choose another --name, or continue it with --resume {shlex.quote(str(run_dir))}"
    return ""


def _cannot_create(run_dir: Path, exc: OSError) -> str:
    """Why a run folder could not be made, in one line; raised unchanged when it is not the
    folder's fault (a full disk says so itself)."""
    problem = not_writable(run_dir, exc)
    if problem is None:
        raise exc
    return f"{problem}; no run was started"


def resume_config(path: str | Path,
                  overrides: dict[str, Any] | None = None) -> tuple[TrainConfig, dict[str, Any] | None, Path]:
    """The config saved in a run's latest checkpoint with allowed ``overrides`` on top.

    A run that never reached its first checkpoint (killed, stopped or out of space early)
    gives its saved ``config.json`` and no checkpoint: it starts again from step 0.
    """
    run_dir = _run_without_checkpoint(Path(path))
    if run_dir is not None:
        ckpt = None
        saved = R.RunDir(run_dir).status().last_checkpoint
        if saved:  # it had checkpoints, and they are gone: starting over must be the user's choice
            raise CheckpointError(
                f"{run_dir}: its checkpoints are gone (it wrote one at step {saved.get('step', '?')}; "
                f"{R.checkpoints_dir(run_dir).name}/ holds none), so there is nothing to resume from; to train "
                f"it again from step 0 as a new run: gantrans train --config "
                f"{shlex.quote(str(R.config_path(run_dir)))} --name NEW_NAME")
        config = TrainConfig.from_dict(_saved_config(run_dir), source=str(R.config_path(run_dir)))
        config.name, config.runs_dir = run_dir.name, str(run_dir.parent)
    else:
        ckpt = load_for_resume(path, warn=_warn_main)
        file = Path(ckpt["_path"])
        run_dir = R.run_dir_of(file)
        if run_dir is None:
            raise CheckpointError(f"{file}: --resume needs a run directory (runs/NAME) or a checkpoint inside one")
        require_plugins(ckpt, resuming=True)
        config = TrainConfig.from_dict(ckpt["config"], source=str(file))
        _warn_edited_config(run_dir, {**ckpt["config"], "model": ckpt.get("model_config") or {}}, overrides or {})
    overrides = dict(overrides or {})
    moved_to = overrides.pop("data", None)  # the same images, somewhere else: checked by the trainer
    refused = sorted(k for k in overrides if k not in RESUMABLE_OVERRIDES)
    if refused:
        raise ConfigError(f"--resume {run_dir}: {', '.join(refused)} cannot change when resuming "
                          f"(start a new run instead)")
    lengthened = [k for k in ("epochs", "n_epochs", "n_epochs_decay") if overrides.get(k) is not None]
    if config.max_steps is not None and lengthened and "max_steps" not in overrides:
        # a run capped with --max-steps, given a new length in epochs: the cap would make it a no-op
        _warn_main(f"--resume {run_dir}: the run was capped at --max-steps {config.max_steps}; the "
                   f"--{lengthened[0].replace('_', '-')} given now sets its length instead")
        overrides["max_steps"] = None
    config.update(overrides, source="command line")
    if moved_to is not None:
        found = Path(str(moved_to)).expanduser()
        config.data = str(found.resolve()) if found.exists() else str(moved_to)
    else:
        config.data = R.usable_data(run_dir, config.data)  # the same folder, found from here
    return config, ckpt, run_dir


def _refuse_lost_data(run_dir: Path, data: Any) -> None:
    """A run whose data folder is gone (moved, renamed) is told how to point it at the new place,
    instead of the data opener's "no such folder, and no built-in data set of that name"."""
    from gantrans.plugins import get_registries

    if not isinstance(data, str) or not data or Path(data).expanduser().exists():
        return
    if data in get_registries().builtin_datasets:
        return
    raise DataError(f"--resume {run_dir}: its data folder {R.data_path(run_dir, data)} is gone (moved or renamed?); "
                    f"put it back, or give the same images in their new place: gantrans train --resume "
                    f"{shlex.quote(str(run_dir))} --data NEW_FOLDER")


def moved_data_refusal(data: Any, change: str) -> DataError:
    """``--data`` given at resume must hold the images the run was trained on: anything else
    would silently make it another run (and break an exact resume)."""
    return DataError(f"--data {data}: not the images the run was trained on: {change}; resume without "
                     f"--data once its own folder is back, or start a new run on these images")


def _warn_edited_config(run_dir: Path, used: Mapping[str, Any], overrides: Mapping[str, Any]) -> None:
    """Say so when the run's config.json asks for other settings than its checkpoint holds (an
    edit by hand): a resume goes by the checkpoint, and the file is rewritten to match it.
    ``used``'s ``model`` is the recipe's resolved options, as the file holds them."""
    try:
        saved = _saved_config(run_dir)
    except CheckpointError:
        return
    ignore = {"name", "runs_dir", "data", *overrides}
    differ = sorted(k for k in set(saved) & set(used) if k not in ignore and saved[k] != used[k])
    if not differ:
        return
    shown = ", ".join(f"{k} {used[k]!r} (the file says {saved[k]!r})" for k in differ[:3] if k != "model")
    if "model" in differ:
        model_saved, model_used = dict(saved.get("model") or {}), dict(used.get("model") or {})
        keys = sorted(k for k in set(model_saved) | set(model_used) if model_saved.get(k) != model_used.get(k))
        shown = ", ".join(x for x in (shown, *(f"-o {k}={model_used.get(k)!r} (the file says "
                                               f"{model_saved.get(k)!r})" for k in keys[:3])) if x)
    _warn_main(f"{R.config_path(run_dir)} was edited: resuming with the checkpoint's settings, {shown}; a resume "
               f"changes its length with flags (--epochs, --max-steps), other settings need a new run")


def data_fingerprint(dataset: Any) -> dict[str, Any]:
    """How many items a data set has, which files they are and their sizes, to notice a change at
    resume. Sizes, not times: a folder copied elsewhere keeps them, and two sets numbered alike
    (0001.png ...) almost never share every size."""
    root = str(getattr(dataset, "root", ""))  # relative to it: the same folder reached from elsewhere is the same
    paths = sorted(dataset.image_files() if hasattr(dataset, "image_files") else [], key=str)
    names = [os.path.relpath(f, root) if root else str(f) for f in paths]

    def size(path: Any) -> int:
        try:
            return os.stat(path).st_size
        except OSError:
            return -1

    def digest(parts: list[str]) -> str:
        return hashlib.sha1("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()

    return {"items": len(dataset), "digest": digest(names),
            "content": digest([f"{n}\0{size(p)}" for n, p in zip(names, paths)])}


def data_change(before: Any, now: Mapping[str, Any]) -> str:
    """What changed between two fingerprints, in words ("" for nothing, or no record to compare)."""
    if not isinstance(before, Mapping):
        return ""
    if before.get("items") != now["items"]:
        return f"the data set has {now['items']} items where the run had {before.get('items')}"
    if before.get("digest") != now["digest"]:
        return "images were replaced (the same count, other files)"
    if before.get("content") is not None and before.get("content") != now["content"]:
        return "images were edited or replaced (the same file names, other file sizes)"
    return ""


def _run_without_checkpoint(path: Path) -> Path | None:
    """``path`` when it is a run directory holding no checkpoint file at all."""
    if not R.is_run_dir(path):
        return None
    return None if R.has_checkpoint(path) else path


def _warn_main(text: str) -> None:
    if os.environ.get("RANK", "0") == "0":  # once, not once per process of a torchrun job
        console.warning(text)


def _saved_config(run_dir: Path) -> dict[str, Any]:
    file = R.config_path(run_dir)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{file}: unreadable ({exc}); start a new run instead") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{file}: not a run config; start a new run instead")
    data.pop("resolved", None)  # what the trainer chose, not what was asked
    return data


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
            if events.json_mode():
                console.message(line)
            elif getattr(self, "log", None) is not None:
                self.log.write(line)
            else:
                self._echo(line)

    def _open_data(self, recipe_cls: type[Recipe]) -> tuple[Any, Any]:
        c = self.config
        if self.open_dataset is None and self.run_dir is not None:  # a resume, of a folder it can name
            _refuse_lost_data(self.run_dir, c.data)
        opener = self.open_dataset or default_opener()
        multiple, min_size, generator = _size_rule(recipe_cls, c.model)
        size_from_data = self._auto_sized = c.crop_size is None
        self._size_rule = (multiple, min_size, generator)
        if c.crop_size is None:  # until the images say otherwise (a crop is cut from the --load-size image)
            c.crop_size = DEFAULT_CROP_SIZE if c.load_size is None else min(DEFAULT_CROP_SIZE, c.load_size)
        common = dict(accepted_kinds=recipe_cls.data_kinds, data_format=c.data_format, split="train",
                      load_size=c.resolved_load_size, crop_size=c.crop_size, preprocess=c.preprocess,
                      channels=c.channels, serial=False, seed=c.seed, size_multiple=multiple)
        if c.max_items is not None:
            common["max_items"] = c.max_items
        report = SkipReport(enabled=self.dist.is_main)  # each unusable file named once
        common["on_skip"] = report
        train = opener(c.data, flip=c.flip, train=True, **common)
        survey = train.survey() if callable(getattr(train, "survey", None)) else None  # a plugin's own set: none
        if size_from_data:
            train = self._fit_size_to_images(train, survey, common, multiple, min_size, generator)
        if survey is not None and survey.grey and c.channels != 1 and self.run_dir is None and self.dist.is_main:
            console.warning(f"{c.data}: the images are greyscale; the model is trained in colour (3 channels) and "
                            f"will make colour images; --channels 1 trains a greyscale one")
        if c.preprocess == "none":
            from gantrans.data.datasets import check_one_size

            check_one_size(train, common["size_multiple"])
        fixed = None
        if c.samples > 0:  # the same files: scanned once
            view = getattr(train, "for_samples", None)
            fixed = (view() if callable(view) else None) or opener(c.data, flip=False, train=False, **common)
        if report.count and self.dist.is_main:
            console.warning(f"{report.count} unusable file(s) skipped in {c.data}; training on {len(train)} items")
        if len(train) == 0:
            raise ConfigError(f"--data {c.data}: the data set is empty")
        return train, fixed

    def _fit_size_to_images(self, train: Any, survey: Any, common: dict[str, Any], multiple: int, min_size: int,
                            generator: str) -> Any:
        """The data set at the size its images suggest (:mod:`gantrans.training.image_size`),
        with ``config.crop_size`` and ``common`` set to it; a plugin's own data set that cannot be
        resized stays at the default."""
        c = self.config
        side = survey.side if survey is not None else None
        self._survey_side = side
        if c.preprocess == "none" and side is not None:
            choice = kept_size(side, multiple)
        else:
            choice = choose_crop_size(side, size_multiple=multiple, min_size=min_size, load_size=c.load_size,
                                      networks=_networks_named(generator))
        if choice.size != c.crop_size:
            load = c.load_size if c.load_size is not None else load_size_for(choice.size)
            resized = train.at_size(choice.size, load) if callable(getattr(train, "at_size", None)) else None
            if resized is None:
                return train
            train = resized
            c.crop_size = choice.size
            common.update(crop_size=choice.size, load_size=load)
        self.size_note = choice.note
        return train

    def _resized_to(self, train: Any, size: int, generator: str) -> None:
        """Train at ``size`` (the networks refused the one chosen from the images): the data sets,
        the config and the start line follow."""
        self.train_ds = train
        if self.fixed_ds is not None:
            view = getattr(train, "for_samples", None)
            self.fixed_ds = (view() if callable(view) else None) or self.fixed_ds
        self.config.crop_size = size
        self.size_note = taken_size(size, self._survey_side, _networks_named(generator)).note

    def _setup(self) -> None:
        c = self.config
        self.dist = D.env_context()
        if self.ckpt:
            self._refuse_other_world_size(self.ckpt)
        self.device = devices.pick_device(c.device, self.dist.local_rank if self.dist.enabled else None)
        D.init_process_group(self.dist, self.device)
        if c.threads:
            torch.set_num_threads(c.threads)
        self.governor = None
        if not (c.threads or c.deterministic or self.dist.enabled) and self.device.type == "cpu":
            from gantrans import openmp

            # only where the CLI chose the OpenMP wait for it (openmp.choose_wait_policy(adaptive=True))
            self.governor = openmp.governor(torch.set_num_threads, torch.get_num_threads())
        devices.pick_precision(c.precision, self.device)  # refuse what the device cannot do before any work
        devices.configure_backends(self.device, c.deterministic)
        seed_everything(c.seed)
        recipe_cls = get_recipe(c.recipe)
        if self.run_dir is None and c.name and not self.dist.enabled:  # a taken name, said before the data is read
            taken = _name_taken(Path(c.runs_dir) / R.check_run_name(c.name))
            if taken:
                raise ConfigError(taken)
        self.train_ds, self.fixed_ds = self._open_data(recipe_cls)
        self._data_fingerprint = data_fingerprint(self.train_ds)
        if self.ckpt:
            said = data_change(self.ckpt.get("data_fingerprint"), self._data_fingerprint)
            if said and str(c.data) != str(R.usable_data(self.run_dir, (self.ckpt.get("config") or {}).get("data"))):
                raise moved_data_refusal(c.data, said)  # --data NEW at resume, holding other images
            if said and self.dist.is_main:
                console.warning(f"{c.data}: {said} since the checkpoint; the resumed run goes on with the data as it "
                                f"is now (epochs of a new length), so it is no longer what an uninterrupted run "
                                f"would have done")
        spec = DataSpec.from_dict(self.ckpt["data"]) if self.ckpt else self.train_ds.spec

        def make_recipe() -> Any:
            recipe = recipe_cls(c.model, spec)
            if self.ckpt:
                recipe.pin_network_options(self.ckpt.get("network_specs"))
            return recipe

        def build() -> tuple[Any, dict[str, Any]]:
            recipe = make_recipe()
            nets = {key: net.to(self.device) for key, net in build_networks(recipe, c.seed).items()}
            # before anything runs a training step (auto precision's probe does): a generator that
            # cannot take the data's size is named with its rule, not left to a shape error
            check_generator_sizes(recipe, nets, self.device)
            return recipe, nets

        try:
            self.recipe, nets = build()
        except ConfigError as refused:
            # a size chosen from the images that the networks refuse for a rule their registration
            # does not state: the nearest size they take, rather than an error about a flag not given
            if not self._auto_sized or self.ckpt or c.preprocess == "none":
                raise
            multiple, _smallest, generator = self._size_rule
            for size in other_sizes(c.crop_size, multiple):
                resized = self.train_ds.at_size(size, c.load_size or load_size_for(size)) \
                    if callable(getattr(self.train_ds, "at_size", None)) else None
                if resized is None:
                    raise
                spec = resized.spec
                try:
                    self.recipe, nets = build()
                except ConfigError:
                    continue
                self._resized_to(resized, size, generator)
                break
            else:
                raise refused from None
        per_rank = -(-len(self.train_ds) // self.dist.world_size)
        self.precision, self.precision_note = auto_precision.pick_precision(
            c.precision, self.device, make_recipe, min(c.batch_size, per_rank), c.seed)
        if self.ckpt:
            for key, state in self.ckpt["networks"].items():
                if key not in nets:
                    raise CheckpointError(f"{self.ckpt['_path']}: network '{key}' is not part of recipe '{c.recipe}'")
                nets[key].load_state_dict(state)
        self.engine = Engine(self.recipe, nets, self.device, self.precision, dist_ctx=self.dist,
                             compile=c.compile, skip_nonfinite=c.skip_nonfinite)
        self.batch_note = ""
        if c.batch_size > per_rank:  # a batch larger than the data set: one batch of everything
            self.batch_note = (f"batch {per_rank} (the data set has {len(self.train_ds)} images; "
                               f"{c.batch_size} asked)")
            if self.dist.is_main:
                where = f" per process ({self.dist.world_size} processes)" if self.dist.enabled else ""
                console.warning(f"the batch size ({c.batch_size}) is larger than the data set ({len(self.train_ds)} "
                                f"items{where}); every step trains on a batch of {per_rank}")
            c.batch_size = per_rank
        self.sampler = ResumableBatchSampler(len(self.train_ds), c.batch_size, seed=c.seed, rank=self.dist.rank,
                                             world_size=self.dist.world_size)
        self.length_epochs = self._length_epochs()
        n_epochs, n_decay = c.schedule_split(self.length_epochs)
        self.schedulers = {name: make_scheduler(opt, c.lr_policy, epochs=self.length_epochs, n_epochs=n_epochs,
                                                n_epochs_decay=n_decay, lr_decay_iters=c.lr_decay_iters)
                           for name, opt in self.engine.optimizers.items()}
        # A resume writes to the run (its config, a resume mark) only once it is sure to train:
        # _run checks the length first, and a refused or finished one leaves the run as it was.
        self.resuming = self.run_dir is not None
        if self.ckpt:
            self._restore(self.ckpt)
            self.ckpt = {"_path": self.ckpt.get("_path")}  # drop the loaded tensors, keep "resumed"
        elif self.resuming:  # --resume of a run that has no checkpoint yet
            R.refuse_if_trained_elsewhere(self.run_dir)  # not announced as starting over, then refused
            self._say(f"gantrans: {self.run_dir} has no checkpoint yet; starting it again from step 0 "
                      f"with its saved config")
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
        made_up = not c.name
        problem = ""
        if made_up and self.dist.is_main:  # two runs started in the same second get -2, -3 ...
            try:
                name = _claim_run_dir(Path(c.runs_dir), name)
            except OSError as exc:
                problem = _cannot_create(Path(c.runs_dir), exc)
        if self.dist.enabled:  # one name for all ranks, rank 0's clock decides
            box = [name]
            torch.distributed.broadcast_object_list(box, src=0)
            name = box[0]
        c.name = R.check_run_name(name)  # may come from a --config file: data, not a path
        self.run_dir = Path(c.runs_dir) / name
        if self.dist.is_main and not made_up:
            problem = _name_taken(self.run_dir)
            if not problem:
                try:
                    self.run_dir.mkdir(parents=True)
                except OSError as exc:
                    problem = _cannot_create(self.run_dir, exc)
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
                            "gantrans_version": __version__,
                            # Relative data paths in this file are relative to here.
                            "started_in": os.getcwd(),
                            # What each network was really built with: the options its factory took,
                            # its defaults for the rest, and the recipe's options it ignored.
                            "networks": _jsonable(self.recipe.network_specs)}
        R.write_config(self.run_dir, data)

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
        restore_rng(ckpt["rng"])

    def _after_nonfinite(self) -> str:
        """What is left after a NaN/Inf, and the ways on: a resume cannot change the rate (the
        usual cure), a new run from this one's config can."""
        anew = (f"gantrans train --config {shlex.quote(str(R.config_path(self.run_dir)))} --name NEW_NAME "
                f"-o lr=LOWER_RATE")
        if self._has_checkpoint():
            return (f"the last checkpoint is intact: {self._resume_command()} --skip-nonfinite goes on skipping "
                    f"such batches, or train again with a lower rate: {anew}")
        return f"no checkpoint was written yet; train again with a lower rate: {anew} (or with --skip-nonfinite)"

    def _has_checkpoint(self) -> bool:
        """Whether the run has a checkpoint to go on from: the one it resumed from, or one saved now."""
        return bool(self.ckpt) or getattr(self, "_saved_step", -1) >= 0

    def _resume_command(self) -> str:
        return resume_command(self.run_dir, self.dist.world_size, self.dist.local_world_size)

    def _refuse_other_world_size(self, ckpt: dict[str, Any]) -> None:
        """A run's steps and epochs count per process: resumed by another number of processes it
        would train other images per epoch and miscount its length, so it is refused."""
        trained_by = ckpt.get("world_size")
        if trained_by is None:  # a checkpoint from before it was recorded: the run's config says
            trained_by = ((R.read_config(self.run_dir) or {}).get("resolved") or {}).get("world_size", 1)
        trained_by = int(trained_by or 1)
        if trained_by != self.dist.world_size:
            def processes(n: int) -> str:
                return "one process" if n == 1 else f"{n} processes"

            raise ConfigError(f"--resume {self.run_dir}: the run was trained by {processes(trained_by)} and this is "
                              f"{processes(self.dist.world_size)}; its steps count per process, so resume it as "
                              f"it was trained: {resume_command(self.run_dir, trained_by)}")

    # -- checkpoints -----------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        from gantrans.plugins import get_registries

        origin = get_registries().models.get(self.config.recipe).origin
        e = self.engine
        return {
            "format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_VERSION, "gantrans_version": __version__,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "run_name": self.run_dir.name,
            "recipe": {"name": self.config.recipe, **origin.as_dict()}, "components": self._components(),
            "data_fingerprint": self._data_fingerprint,
            "model_config": _jsonable(self.recipe.config), "data": self.recipe.data.as_dict(),
            "network_specs": _jsonable(self.recipe.network_specs), "config": self.config.as_dict(),
            "networks": {k: net.state_dict() for k, net in e.nets.items()},
            "optimizers": {k: opt.state_dict() for k, opt in e.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "scaler": e.scaler.state_dict() if e.scaler is not None else None,
            "recipe_state": self.recipe.state_dict(), "rng": capture_rng(),
            "epoch": self.epoch, "step": self.step, "epoch_step": self.epoch_step, "skipped": e.skipped,
            "world_size": self.dist.world_size,  # steps count per process: a resume needs as many
        }

    def _components(self) -> dict[str, dict[str, Any]]:
        """The registered loss and data format the run uses, with the plugins they came from: an
        export (the loss) and ``--resume`` (both) need them installed, and name what to install."""
        from gantrans.plugins import get_registries

        regs = get_registries()
        out = {}
        loss = self.recipe.config.get("loss")
        if isinstance(loss, str) and loss in regs.losses:
            out["loss"] = {"name": loss, **regs.losses.get(loss).origin.as_dict()}
        fmt = getattr(self.train_ds, "format_name", None)
        if isinstance(fmt, str) and fmt in regs.data_formats:
            out["data_format"] = {"name": fmt, **regs.data_formats.get(fmt).origin.as_dict()}
        return out

    def save_checkpoint(self, epoch_file: bool = False) -> Path | None:
        """Write ``latest.pt`` (rank 0 only) and, at an epoch end, a kept copy; prune old copies.

        Never writes NaN or Inf: a run that gets there stops and keeps its last good checkpoint.
        """
        bad = self.engine.nonfinite_part()
        if D.any_rank(bad is not None, self.device, self.dist):  # every rank calls this: a collective
            raise NonFiniteLoss(self.step, bad or "another rank", "not finite", what="refusing to checkpoint: state of")
        if not self.dist.is_main:
            self._saved_step = self.step  # so every rank takes the same "save at the end?" decision
            return None
        folder = self.run_dir / CHECKPOINT_DIR
        summary = dict(step=self.step, epoch=self.epoch, losses=getattr(self, "_terms", None))
        try:
            if epoch_file and self.config.keep_epochs > 0:
                # The kept copy first: a crash between the two files leaves latest.pt older, and
                # the resume redoes the epoch's end, this copy included. The other order lost
                # the epoch's checkpoint for good (latest.pt already past it).
                kept_file = atomic_save(self.state(), folder / epoch_filename(self.epoch))
                R.write_checkpoint_summary(kept_file, **summary)
                with atomic_write(folder / LATEST) as fh, open(kept_file, "rb") as src:
                    shutil.copyfileobj(src, fh)
                latest = folder / LATEST
                R.copy_checkpoint_summary(kept_file, latest)
            else:
                latest = atomic_save(self.state(), folder / LATEST)
                R.write_checkpoint_summary(latest, **summary)
            self._saved_step = self.step
        except DiskFullError as exc:
            saved = getattr(self, "_saved_step", -1) >= 0
            kept = "the last checkpoint is intact" if saved else "no checkpoint was written yet"
            raise DiskFullError(exc.path, f"{kept}; free some space, then continue with "
                                          f"'{self._resume_command()}'") from None
        if epoch_file and self.config.keep_epochs > 0:
            kept = R.kept_epoch_checkpoints(self.run_dir)
            for old in kept[: max(0, len(kept) - self.config.keep_epochs)]:
                R.remove_checkpoint(old)
        if getattr(self, "status", None) is not None:
            self.status.checkpoint(latest, self.step)
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
                          worker_init_fn=_WorkerSeed(seed, epoch, os.getpid()), persistent_workers=False)

    def _fixed_batch(self) -> Any:
        if self.fixed_ds is None:
            return None
        self.fixed_ds.set_epoch(0)
        n = min(self.config.samples, len(self.fixed_ds))
        batch = torch.utils.data.default_collate([self.fixed_ds[i] for i in range(n)])
        return move_batch(batch, self.device, self.engine.channels_last)

    def _write_samples(self, step_grid: bool = False) -> None:
        """A sample grid: ``epoch_NNNN.png`` at an epoch end, ``step_NNNNNNN.png`` between."""
        if not self.dist.is_main or self._fixed is None:
            return
        rows = render_rows(self.recipe, self._fixed, list(self.engine.nets.values()), seed=self.config.seed)
        file = R.step_sample_grid(self.run_dir, self.step) if step_grid else R.sample_grid(self.run_dir, self.epoch)
        path = save_grid(rows, file, step=self.step)
        self._grid_step = self.step
        self.log.image("samples", path, self.step)

    def _on_signal(self, signum, frame) -> None:  # noqa: ARG002
        """The first Ctrl+C / SIGTERM stops the run after this step with a checkpoint. A second
        (a double press, a Stop clicked twice) is let pass: raised during the checkpoint's write, it
        broke it and lost the run's work since the last one. A third stops at once, without it (a
        hung data loader); nothing is printed here, as a handler may run in the middle of a print."""
        self._signals += 1
        if self._signals == 1:
            self._stop = True
            self._signum = signum
        elif self._signals >= 3:
            signal.signal(signum, self._old_handlers.get(signum, signal.SIG_DFL))
            signal.raise_signal(signum)

    def run(self) -> TrainResult:
        # Process-wide switches --deterministic flips; restored so an embedding process is unchanged.
        saved = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
                 torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic)
        try:
            return self._run()
        except TrainingInterrupted as exc:
            self._finish_status("interrupted", str(exc))
            raise
        except NonFiniteLoss as exc:
            exc.args = (f"{exc.problem}; {self._after_nonfinite()}",)
            self._finish_status("stopped-nonfinite", str(exc))
            raise
        except KeyboardInterrupt:
            self._finish_status("interrupted", "interrupted (no checkpoint saved since the last one)")
            raise
        except BaseException as exc:
            dist = getattr(self, "dist", None)
            if dist is not None and dist.enabled and D.is_peer_loss(exc):  # the job lost a process, not this one
                kept = "the last checkpoint is intact" if self._has_checkpoint() else "no checkpoint was written yet"
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                lost = PeerLost(f"another process of this {dist.world_size}-process run stopped (its own output "
                                f"says why; here: {first}); {kept}: {self._resume_command()}")
                self._finish_status("interrupted", str(lost))
                raise lost from None
            self._finish_status("failed", str(exc) if isinstance(exc, GantransError) else
                                f"{type(exc).__name__}: {exc}")
            raise
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
        if self.ckpt and self.step > total:  # a length shorter than what is done: the run is left as it is
            how = "--max-steps" if c.max_steps is not None and c.max_steps < c.total_epochs * steps_per_epoch \
                else "--epochs"
            raise ConfigError(f"--resume {self.run_dir}: the run has done {self.step} steps and {how} asks for "
                              f"{total}; a run cannot be shortened: resume with a larger {how}, or export it as it is")
        if self.step >= total and not self.epoch_step >= steps_per_epoch > 0:  # (else its epoch's end is due)
            if c.max_steps is not None and c.max_steps <= self.step:
                how = f"--max-steps N (N > {self.step})"
            else:
                how = f"--epochs N (N > {self.epoch})"
            self._say(f"gantrans: nothing to do: {self.step} steps done, the run asks for {total}; "
                      f"to train longer: {self._resume_command()} {how}")
            return TrainResult(self.run_dir, self.step, self.epoch, self.engine.skipped)
        if self.resuming:
            if self.dist.is_main:
                R.mark_resume(self.run_dir, self.step)  # the log only grows: a viewer's offset stays valid
            self._write_config()
        self.status = R.StatusWriter(self.run_dir, enabled=self.dist.is_main)
        if self.resuming:
            self.status.resumed(self.step)
        self.status.update(force=True, state="starting", step=self.step, total_steps=total, epoch=self.epoch,
                           epoch_step=self.epoch_step,
                           total_epochs=min(c.total_epochs, -(-total // max(1, steps_per_epoch))),
                           recipe=c.recipe, data=str(c.data), device=str(self.device), precision=self.precision)
        self._rate = events.Rate()
        if self.dist.is_main:
            events.active().start("train", total=total, unit="step", run=str(self.run_dir), initial=self.step)
        self.log = RunLogger(self.run_dir, enabled=self.dist.is_main, tensorboard=c.tensorboard,
                             total_steps=total, initial_step=min(self.step, total))
        for line in self._start_lines(steps_per_epoch, total):
            self._say(line)
        self._fixed = self._fixed_batch() if self.dist.is_main else None
        self._saved_step = self.step if self.ckpt else -1
        self._old_handlers, self._signals = {}, 0
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old_handlers[sig] = signal.signal(sig, self._on_signal)
        try:
            self._loop(steps_per_epoch, total)
        finally:
            for sig, old in self._old_handlers.items():
                signal.signal(sig, old)
            self.log.close()
        D.barrier(self.dist)
        self.status.finish("finished", step=self.step, epoch=self.epoch, epoch_step=self.epoch_step, eta_s=0.0)
        return TrainResult(self.run_dir, self.step, self.epoch, self.engine.skipped)

    def _finish_status(self, state: str, reason: str) -> None:
        status = getattr(self, "status", None)
        if status is not None:
            try:
                status.finish(state, reason=reason.strip().splitlines()[0] if reason.strip() else state,
                              step=self.step, epoch=self.epoch, epoch_step=self.epoch_step, eta_s=None)
            except OSError:  # the error being raised matters more (a full disk, say)
                pass

    def _report(self, total: int, terms: dict[str, float], per_step_images: int) -> None:
        """status.json (every few seconds) and the JSON progress event of this step."""
        self._terms = terms
        rate, eta = self._rate.update(self.step, total)
        ips = round(rate * per_step_images, 4) if rate is not None else None
        self.status.update(state="running", step=self.step, epoch=self.epoch, epoch_step=self.epoch_step,
                           images_per_s=ips,
                           eta_s=None if eta is None else round(eta, 1))
        if self.dist.is_main:
            events.active().progress(self.step, total, rate=rate, eta_s=eta, epoch=self.epoch, losses=terms,
                                     images_per_s=ips)

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
        precision = f"{self.precision} ({self.precision_note})" if self.precision_note else self.precision
        lines = [f"gantrans: {verb} '{c.recipe}' on {device}{procs}, precision {precision}, {batch}, {length}"]
        samples = [f"every {c.sample_every_epoch} epoch(s)"] if self._epoch_grids(steps_per_epoch) else []
        if c.sample_every_steps:
            samples.append(f"every {c.sample_every_steps} steps")
            if c.sample_every_epoch and not self._epoch_grids(steps_per_epoch):
                samples[-1] += f"; not each epoch: an epoch is {steps_per_epoch} step(s)"
        if getattr(self, "size_note", ""):
            lines.append(f"  image size:   {self.size_note}")
        lines.append(f"  run folder:   {self.run_dir}")
        if c.samples and samples:
            lines.append(f"  sample grids: {self.run_dir / R.SAMPLES_DIR} ({', '.join(samples)})")
        every = f"every {c.checkpoint_every} steps, " if c.checkpoint_every else ""
        if self._short_epochs(steps_per_epoch):
            when = f"{every}at the end; not each epoch: an epoch is {steps_per_epoch} step(s)"
        else:
            kept = f", the last {c.keep_epochs} kept" if c.keep_epochs else ""
            when = f"{every}at each epoch's end{kept} and at the end"
        lines.append(f"  checkpoints:  {self.run_dir / CHECKPOINT_DIR} ({when})")
        if self.log.tensorboard_dir is not None:
            lines.append(f"  TensorBoard:  tensorboard --logdir {self.log.tensorboard_dir}")
        lines.append(f"  Ctrl+C saves a checkpoint; continue with: {self._resume_command()}")
        return lines

    def _epoch_grids(self, steps_per_epoch: int) -> bool:
        """Whether epochs end with a grid: asked for, and not more often than the step grids
        asked for too (on a set smaller than vanilla's batch of 128 an epoch is one step, and a grid
        per step was hundreds of files)."""
        c = self.config
        return bool(c.sample_every_epoch) and not (
            c.sample_every_steps and steps_per_epoch * c.sample_every_epoch < c.sample_every_steps)

    def _short_epochs(self, steps_per_epoch: int) -> bool:
        """Whether epochs are too short to keep a checkpoint each: shorter than the step-grid
        interval. On a set smaller than vanilla's batch of 128 an epoch is a step or two, and a kept
        checkpoint per epoch wrote two copies of ~75 MB per step; such runs keep one every
        ``checkpoint_every`` steps instead, as a run with long epochs does between their ends."""
        return bool(self.config.sample_every_steps) and steps_per_epoch < self.config.sample_every_steps

    def _end_epoch(self, steps_per_epoch: int) -> None:
        """An epoch's end: the epoch count, the schedulers' step, its sample grid, its kept checkpoint."""
        c = self.config
        self.epoch += 1
        self.epoch_step = 0
        with warnings.catch_warnings():
            # A run resumed right at an epoch end steps the schedulers before any
            # optimiser step of this process; the order across the run is still right.
            warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler.step\(\)`")
            for sched in self.schedulers.values():
                sched.step()
        if self._epoch_grids(steps_per_epoch) and self.epoch % c.sample_every_epoch == 0:
            self._write_samples()
        if not self._short_epochs(steps_per_epoch):
            self.save_checkpoint(epoch_file=True)

    def _finish(self) -> None:
        """The final state always gets a grid and a checkpoint."""
        c = self.config
        if getattr(self, "_grid_step", None) != self.step and (c.sample_every_epoch or c.sample_every_steps):
            self._write_samples(step_grid=True)
        if self._saved_step != self.step:
            self.save_checkpoint()

    def _loop(self, steps_per_epoch: int, total: int) -> None:
        c = self.config
        if self.step >= total:
            # stopped (killed) between the last step's checkpoint and its epoch's end: end it
            self._end_epoch(steps_per_epoch)
            self._finish()
            return
        per_step_images = c.batch_size * self.dist.world_size
        self.status.update(force=True, state="running")
        t0, n0 = time.perf_counter(), 0
        first = self.step
        while self.step < total:
            for raw in self._loader(self.epoch):
                batch = move_batch(raw, self.device, self.engine.channels_last)
                try:
                    result = self.engine.step(batch, self.step)
                except (RuntimeError, ValueError, IndexError, KeyError) as exc:
                    if self.step != first or isinstance(exc, GantransError):
                        raise
                    raise first_step_error(self.recipe, exc, batch, getattr(self.train_ds, "format_name", None)) \
                        from exc
                self.step += 1
                self.epoch_step += 1
                n0 += 1
                if self.governor is not None:
                    before = self.governor.threads
                    if self.governor.tick() != before and self.verbose:
                        self._say(f"gantrans: {self.governor.threads} CPU thread(s) from step {self.step + 1} "
                                  f"(other processes' load changed)")
                self.log.progress(1, result.terms, epoch=self.epoch + 1, epochs=c.total_epochs)
                self._report(total, result.terms, per_step_images)
                if c.log_every and (self.step % c.log_every == 0 or self.step == total):
                    elapsed = max(time.perf_counter() - t0, 1e-9)
                    row = {"step": self.step, "epoch": self.epoch, "epoch_step": self.epoch_step,
                           **result.terms, **self.engine.learning_rates(),
                           "images_per_s": round(n0 * per_step_images / elapsed, 4), "time": time.time()}
                    if c.skip_nonfinite:
                        row["nonfinite_skipped"] = self.engine.skipped
                    self.log.log(row)
                    t0, n0 = time.perf_counter(), 0
                # A grid due at this step comes first: a resume starts after it and would never draw it.
                if c.sample_every_steps and self.step % c.sample_every_steps == 0 and self.step < total:
                    self._write_samples(step_grid=True)
                if D.any_rank(self._stop, self.device, self.dist):
                    self.save_checkpoint()
                    raise TrainingInterrupted(self.step, self.run_dir, getattr(self, "_signum", signal.SIGINT),
                                              self._resume_command())
                if c.checkpoint_every and self.step % c.checkpoint_every == 0:
                    self.save_checkpoint()
                if self.step >= total and self.epoch_step < steps_per_epoch:
                    break
            if self.epoch_step >= steps_per_epoch:
                self._end_epoch(steps_per_epoch)
            if self.step >= total:
                break
        self._finish()


class _WorkerSeed:
    """Seeds Python and NumPy in each loader worker from (seed, epoch, worker id)."""

    def __init__(self, seed: int, epoch: int, trainer_pid: int | None = None):
        self.seed, self.epoch, self.trainer_pid = seed, epoch, trainer_pid

    def __call__(self, worker_id: int) -> None:
        import random

        # Ctrl+C (and a group-wide SIGTERM) reaches the whole process group: the main process
        # saves a checkpoint and shuts the workers down; a worker dying on its own would abort
        # that with an error. A trainer killed outright takes its workers with it.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if self.trainer_pid is not None:
            _die_with(self.trainer_pid)

        import numpy as np

        s = (self.seed * 1_000_003 + self.epoch * 1009 + worker_id) % 2**32
        random.seed(s)
        np.random.seed(s)
        torch.manual_seed(s)


def _die_with(parent: int) -> None:
    """Have the kernel kill this process when ``parent`` (our direct parent) dies (Linux).

    Torch's own watchdog notices a dead parent only every few seconds; meanwhile the
    worker keeps memory and, on a GPU machine, the device. Elsewhere nothing changes.
    """
    if not sys.platform.startswith("linux") or os.getppid() != parent:
        return  # not Linux, or started through a fork server: torch's watchdog remains
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _networks_named(generator: str) -> str:
    """How a size note names the networks whose rule set the size."""
    return f"'{generator}' and its discriminator"


def _size_rule(recipe_cls: type[Recipe], model: dict[str, Any]) -> tuple[int, int, str]:
    """(size multiple, smallest size, generator name): the spatial size rule of the recipe's
    ``generator`` (its multiple) and ``discriminator`` (the larger smallest size), as their
    registrations declare it; (1, 1, ...) for what declares none."""
    from gantrans.plugins import get_registries

    networks = get_registries().networks
    multiple, smallest = 1, 1
    generator = model.get("generator", recipe_cls.defaults.get("generator"))
    for key in ("generator", "discriminator"):
        name = model.get(key, recipe_cls.defaults.get(key))
        if not isinstance(name, str) or name not in networks:
            continue
        meta = networks.get(name).meta
        if key == "generator":
            multiple = int(meta.get("size_multiple", 1) or 1)
        smallest = max(smallest, int(meta.get("min_size", 1) or 1))
    return multiple, smallest, generator if isinstance(generator, str) else "the generator"


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
