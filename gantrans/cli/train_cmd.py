"""``gantrans train``: train a recipe; flags, a config file, or ``--resume`` alone.

Precedence: recipe/trainer defaults < ``--config`` file < flags given on the command line.
Building the parser imports no torch; :func:`run` does.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import Any

from gantrans import console, events
from gantrans.events import add_progress_argument
from gantrans.keyvalue import option_arg

S = argparse.SUPPRESS

# Flags that map onto recipe options of the same name.
MODEL_FLAGS = ("generator", "discriminator", "loss")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train a recipe (cyclegan, pix2pix, cgan, vanilla, ...)",
        description="Train a GAN recipe on a data folder or built-in data set. Every setting can also "
                    "live in a --config file (.json/.toml, recipe options in a 'model' table); "
                    "'--resume runs/NAME' continues a run exactly and needs no other flag.",
        argument_default=S, add_help=False)
    p.add_argument("-h", "--help", action=_RecipeHelp, nargs=0,
                   help="show this help; with a RECIPE, also that recipe's options and defaults")
    p.add_argument("recipe", nargs="?", metavar="RECIPE", help="recipe name (see 'gantrans plugins list')")
    p.add_argument("--data", metavar="PATH_OR_BUILTIN", help="data folder or built-in data set name")
    p.add_argument("--name", help="run name (default: RECIPE-TIMESTAMP)")
    p.add_argument("--config", metavar="FILE", help=".json or .toml config file")
    p.add_argument("--runs-dir", metavar="DIR", help="where runs are written (default: runs)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue this run from its latest checkpoint")
    g = p.add_argument_group("length")
    g.add_argument("--epochs", type=int, metavar="N", help="total epochs (default 200, the paper's: 100 at the "
                   "initial learning rate, then 100 of decay)")
    g.add_argument("--max-steps", type=int, metavar="N", help="stop after N steps in total")
    d = p.add_argument_group("data")
    d.add_argument("--batch-size", type=int, metavar="N",
                   help="images per step (default: the recipe's, 1 for cyclegan and pix2pix, 128 for vanilla and "
                        "cgan, or the whole set when smaller)")
    d.add_argument("--load-size", type=int, metavar="N", help="resize to N before cropping (default: crop*286/256)")
    d.add_argument("--crop-size", type=int, metavar="N", help="training image size (default: the images' size, at most 256)")
    d.add_argument("--channels", type=int, choices=(1, 3), metavar="N", help="3 (default): colour; 1: greyscale images in and "
                                                                "out (colour images are converted)")
    d.add_argument("--preprocess", metavar="MODE", help="resize_and_crop (default), crop, scale_width, "
                                                        "scale_width_and_crop, none")
    d.add_argument("--no-flip", dest="flip", action="store_false", help="no random horizontal flips")
    d.add_argument("--data-format", metavar="F", help="force a data format instead of detecting it")
    d.add_argument("--max-items", type=int, metavar="N", help="use only the first N images of each domain or class (quick trials)")
    d.add_argument("--workers", type=int, metavar="N", help="data loader processes (default 2)")
    m = p.add_argument_group("model")
    m.add_argument("--generator", metavar="G", help="generator network (recipe option 'generator')")
    m.add_argument("--discriminator", metavar="D", help="discriminator network (recipe option 'discriminator')")
    m.add_argument("--loss", metavar="L", help="adversarial loss (recipe option 'loss')")
    m.add_argument("--preset", metavar="NAME",
                   help="a named option set of the recipe, e.g. 'paper' for the paper's exact settings "
                        "(options you set still win); 'gantrans train RECIPE --help' lists them")
    m.add_argument("-o", "--option", action="append", metavar="KEY=VALUE", type=option_arg,
                   help="set a recipe option; VALUE is parsed as JSON when it can be (repeatable)")
    h = p.add_argument_group("hardware")
    h.add_argument("--device", metavar="DEV", help="auto (default: cuda, then mps, then cpu), cpu, cuda[:N], mps")
    h.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"),
                   help="auto (default): bf16 where the hardware has it and, on a CPU, where it is faster "
                        "(the run's first line says why); fp16 on older GPUs; else fp32")
    h.add_argument("--compile", action="store_true", help="torch.compile the networks")
    h.add_argument("--deterministic", action="store_true", help="deterministic algorithms (exact resume)")
    h.add_argument("--seed", type=int, metavar="S", help="random seed of weights, data order and crops (default 0)")
    h.add_argument("--threads", type=int, metavar="N", help="CPU threads for torch (default: torch's choice)")
    o = p.add_argument_group("optimisation")
    o.add_argument("--lr-policy", choices=("linear", "step", "cosine"),
                   help="learning-rate schedule after --n-epochs (default linear)")
    o.add_argument("--n-epochs", type=int, metavar="N",
                   help="epochs at the initial learning rate (default: the first half of the run, 100 of 200)")
    o.add_argument("--n-epochs-decay", type=int, metavar="N",
                   help="epochs of linear decay to zero (default: the rest of the run)")
    o.add_argument("--lr-decay-iters", type=int, metavar="N", help="step policy: epochs between /10 (default 50)")
    o.add_argument("--skip-nonfinite", action="store_true", help="skip batches with NaN/Inf losses instead of stopping")
    r = p.add_argument_group("outputs")
    r.add_argument("--checkpoint-every", type=int, metavar="STEPS", help="also checkpoint every N steps (default 500)")
    r.add_argument("--keep-epochs", type=int, metavar="K", help="keep the last K epoch checkpoints (default 5)")
    r.add_argument("--samples", type=int, metavar="N", help="fixed inputs in each sample grid (default 4)")
    r.add_argument("--sample-every-epoch", type=int, metavar="N",
                   help="write a sample grid every N epochs (default 1)")
    r.add_argument("--sample-every-steps", type=int, metavar="N",
                   help="also write a sample grid every N steps (0: never; default: the recipe's, else 0)")
    r.add_argument("--log-every", type=int, metavar="STEPS", help="metrics row every N steps (default 10)")
    r.add_argument("--no-tensorboard", dest="tensorboard", action="store_false", help="no TensorBoard events")
    add_progress_argument(r)
    r.add_argument("-v", "--verbose", action="store_true", help="say more at start (OpenMP thread policy, ...)")
    p.set_defaults(func=run)


class _RecipeHelp(argparse.Action):
    """``gantrans train RECIPE --help``: the flags, then the recipe's declared options."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        parser.print_help()
        name = getattr(namespace, "recipe", None)
        print()
        if name is None:
            print("Recipe options: 'gantrans train RECIPE --help' lists a recipe's options and defaults.")
        else:
            chosen = {k: getattr(namespace, k) for k in MODEL_FLAGS if getattr(namespace, k, None)}
            for line in recipe_help(name, chosen):
                print(line)
        parser.exit()


def recipe_help(name: str, chosen: dict[str, str] | None = None) -> list[str]:
    """The ``--help`` section of one recipe: description, data kinds and declared options, then the
    options of the networks and loss it uses (``chosen`` flags, else its defaults) as ``-o ROLE.OPTION``."""
    from gantrans.errors import GantransError
    from gantrans.options import RECIPE_SET_OPTIONS, describe_options
    from gantrans.plugins import get_registries

    try:
        entry = get_registries().models.get(name)
    except GantransError as exc:
        return [f"gantrans: {exc}"]
    cls = entry.obj
    lines = [f"recipe '{name}' ({entry.origin.describe()}): {cls.description}",
             f"data: {', '.join(cls.data_kinds) or 'any'}",
             "options (set with -o NAME=VALUE or a 'model' table in --config; generator, discriminator "
             "and loss also as flags):"]
    lines += describe_options(cls.options)
    regs = get_registries()
    values = {**cls.defaults, **(chosen or {})}
    for o in cls.options:
        value = values.get(o.name)
        if not isinstance(value, str):
            continue
        if value in regs.networks:
            entry, what = regs.networks.get(value), regs.networks.get(value).meta.get("kind", "network")
        elif value in regs.losses:
            entry, what = regs.losses.get(value), "loss"
        else:
            continue
        own = [opt for opt in entry.meta.get("options", ())
               if opt.name not in RECIPE_SET_OPTIONS and opt.name not in cls.defaults]
        if own:
            lines.append(f"{what} '{value}' options (set with -o {o.name}.NAME=VALUE):")
            lines += describe_options([replace(opt, name=f"{o.name}.{opt.name}") for opt in own])
    presets = getattr(cls, "presets", ())
    if presets:
        lines.append("presets (--preset NAME; what differs from the defaults above, and why):")
        lines += [f"  {p.describe()}" for p in presets]
    lines.append("networks, losses and their options: 'gantrans plugins show networks'; the network options "
                 "a recipe passes itself (in_channels, ngf, norm, init_type, ...) come from its options above")
    return lines


def config_from_args(args: argparse.Namespace) -> Any:
    """The resolved :class:`~gantrans.training.TrainConfig` of a fresh run."""
    from gantrans.errors import UsageError
    from gantrans.training.config import TrainConfig, load_config_file

    given = _given(args)
    cfg = TrainConfig()
    recipe = given.get("recipe")
    if recipe:  # the recipe's own training defaults (batch size of its paper, ...) under file and flags
        from gantrans.plugins import get_registries

        models = get_registries().models
        if recipe in models:
            cfg.update(dict(getattr(models.get(recipe).obj, "training_defaults", {}) or {}),
                       source=f"recipe '{recipe}' defaults")
    if "config" in vars(args):
        cfg.update(load_config_file(args.config), source=args.config)
    model = {k: given.pop(k) for k in MODEL_FLAGS if k in given}
    for key, value in vars(args).get("option") or []:  # parsed and checked by option_arg
        model[key] = value
    cfg.update({**given, "model": model}, source="command line")
    if not cfg.recipe:
        raise UsageError("which recipe? give one (e.g. 'gantrans train cyclegan ...') or --resume RUN_DIR")
    if not cfg.data:
        raise UsageError(f"recipe '{cfg.recipe}': --data is required (a folder or a built-in data set)")
    if cfg.preset:
        from gantrans.recipe import get_recipe, preset_options

        cfg.model = {**preset_options(get_recipe(cfg.recipe), cfg.preset), **cfg.model}
    return cfg


def _given(args: argparse.Namespace) -> dict[str, Any]:
    skip = {"func", "command", "debug", "_group_parser", "config", "resume", "option", "progress", "verbose"}
    return {k: v for k, v in vars(args).items() if k not in skip and v is not None}


def _unknown_recipe(args: argparse.Namespace) -> str | None:
    """A usage error for an unknown recipe name, found before torch loads (registering is torch-free)."""
    name = vars(args).get("recipe")
    if not name:
        return None
    from gantrans.plugins import get_plugin_manager, get_registries

    models = get_registries().models
    if name in models:
        return None
    disabled = get_plugin_manager().disabled
    if name in disabled:  # a plugin's recipe is most often named as the plugin
        return (f"recipe '{name}': plugin '{name}' is switched off by GANTRANS_DISABLE_PLUGINS; leave it out of "
                f"that variable to train it")
    import difflib

    close = difflib.get_close_matches(name, models.names(), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    failed = (f"; plugins that failed to load: {', '.join(models.failed_plugins)}"
              if getattr(models, "failed_plugins", None) else "")
    off = f"; switched off by GANTRANS_DISABLE_PLUGINS: {', '.join(disabled)}" if disabled else ""
    return (f"unknown recipe '{name}'{hint} (recipes: {', '.join(models.names())}{failed}{off}; "
            f"see 'gantrans plugins list')")


def run(args: argparse.Namespace, open_dataset: Any = None) -> int:
    events.active().expect("train", "step")  # a data set warning may come before the totals
    problem = _unknown_recipe(args)
    if problem:
        print(f"gantrans train: error: {problem}", file=sys.stderr)
        events.active().error(problem)
        return 2
    from gantrans.openmp import choose_wait_policy

    # before torch loads OpenMP; the trainer adapts its threads unless they were fixed
    choose_wait_policy(adaptive=not (vars(args).get("threads") or vars(args).get("deterministic")))
    from gantrans.errors import ConfigError
    from gantrans.training import distributed
    from gantrans.training.trainer import Trainer, TrainingInterrupted, resume_config

    try:
        if "resume" in vars(args):
            given = _given(args)
            if "config" in vars(args) or "option" in vars(args) or any(k in given for k in MODEL_FLAGS):
                raise ConfigError("--resume takes its config from the checkpoint; --config, -o and model "
                                  "flags cannot change a run (length, device and output flags can)")
            config, ckpt, run_dir = resume_config(args.resume, given)
            recipe = given.pop("recipe", None)
            if recipe is not None and recipe != config.recipe:
                raise ConfigError(f"--resume {run_dir}: that run trains '{config.recipe}', not '{recipe}'")
            trainer = Trainer(config, checkpoint=ckpt, run_dir=run_dir, open_dataset=open_dataset,
                              verbose=bool(vars(args).get("verbose")))
        else:
            trainer = Trainer(config_from_args(args), open_dataset=open_dataset,
                              verbose=bool(vars(args).get("verbose")))
        try:
            result = trainer.run()
        except TrainingInterrupted as exc:
            if trainer.dist.is_main:
                console.message(f"gantrans: {exc}")
                from gantrans.runs import latest_checkpoint

                events.active().result(files=[str(exc.run_dir), str(latest_checkpoint(exc.run_dir))],
                                       figures={"steps": exc.step, "epochs": trainer.epoch,
                                                "skipped_batches": getattr(getattr(trainer, "engine", None), "skipped", 0),
                                                "interrupted": True},
                                       run=str(exc.run_dir))
            return exc.exit_code  # 130 for Ctrl+C, 143 for SIGTERM
        if trainer.dist.is_main:
            console.message(f"gantrans: done: {console.counted(result.step, 'step')}, "
                            f"{console.counted(result.epoch, 'epoch')} finished"
                            + (f", {result.skipped} non-finite batches skipped" if result.skipped else "")
                            + f"; run {result.run_dir}")
            from gantrans.runs import latest_checkpoint

            events.active().result(files=[str(result.run_dir), str(latest_checkpoint(result.run_dir))],
                                   figures={"steps": result.step, "epochs": result.epoch,
                                            "skipped_batches": result.skipped}, run=str(result.run_dir))
        return 0
    finally:
        distributed.destroy_process_group()
