"""One training step of any recipe: phases, autocast, scaling, gradient averaging, optimisers.

The trainer and ``gantrans bench train`` share this code, so a benchmark measures exactly the
work a training step does.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from gantrans.errors import ConfigError, GantransError
from gantrans.recipe import Batch, Phase, Recipe, build_loss
from gantrans.training import devices
from gantrans.training import distributed as D
from gantrans.training import winograd as W


class NonFiniteLoss(GantransError):
    """A loss term, weight, buffer or optimiser moment became NaN or Inf; training stopped
    without touching the last checkpoint."""

    def __init__(self, step: int, term: str, value: float, what: str = "loss term"):
        self.step, self.term, self.value = step, term, value
        self.problem = f"step {step}: {what} '{term}' is {value}; stopped"
        super().__init__(f"{self.problem} (the last checkpoint is intact; --skip-nonfinite skips such batches)")


@dataclass
class StepResult:
    terms: dict[str, float] = field(default_factory=dict)
    skipped: bool = False


def move_batch(batch: Mapping[str, Any], device: torch.device, channels_last: bool = False) -> Batch:
    out: Batch = {}
    for key, value in batch.items():
        if isinstance(value, torch.Tensor):
            value = value.to(device, non_blocking=True)
            if channels_last and value.dim() == 4:
                value = value.contiguous(memory_format=torch.channels_last)
        out[key] = value
    return out


def build_networks(recipe: Recipe, seed: int) -> dict[str, nn.Module]:
    """``recipe.build_networks()`` under a fixed seed, so every rank and every resume starts alike."""
    torch.manual_seed(seed)
    nets = recipe.build_networks()
    if not isinstance(nets, Mapping) or not all(isinstance(n, nn.Module) for n in nets.values()):
        raise ConfigError(f"recipe '{recipe.name}': build_networks() must return a dict of nn.Module")
    return dict(nets)


class Engine:
    """Holds the networks on the device, one Adam per optimizer spec, and runs steps.

    ``nets`` are the plain modules (checkpointed); the recipe is attached to ``run_nets``,
    which are the compiled versions where ``compile`` asked for it.
    """

    def __init__(self, recipe: Recipe, nets: Mapping[str, nn.Module], device: torch.device, precision: str, *,
                 dist_ctx: D.DistContext | None = None, compile: bool = False,
                 skip_nonfinite: bool = False, channels_last: bool | None = None,
                 winograd: bool | None = None):
        self.recipe = recipe
        self.device = device
        self.precision = precision
        self.dist = dist_ctx or D.DistContext()
        self.skip_nonfinite = skip_nonfinite
        # NHWC suits cuDNN's tensor-core convolutions; on the CPU oneDNN picks its own layouts.
        self.channels_last = device.type == "cuda" if channels_last is None else bool(channels_last)
        self.nets: dict[str, nn.Module] = {}
        for key, net in nets.items():
            net = net.to(device)
            if self.channels_last:
                net = net.to(memory_format=torch.channels_last)
            net.train()
            self.nets[key] = net
        if self.dist.enabled:
            D.broadcast_modules(self.nets.values())
        self.run_nets = self._maybe_compile(compile)
        recipe.attach(self.run_nets)
        # fp32 on a CPU: 3x3 convolutions by Winograd where it pays off (gantrans.training.winograd),
        # unless GANTRANS_WINOGRAD=0. Not under torch.compile (inductor makes its own kernels) nor
        # with a gradient penalty (its double backward would go through the hand-written backward).
        auto = device.type == "cpu" and precision == "fp32" and not compile and not _has_gradient_penalty(recipe)
        self.winograd = auto and (W.allowed() if winograd is None else bool(winograd))
        self._conv_workspace = W.Workspace()

        self.specs = {spec.name: spec for spec in recipe.optimizers()}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.owned: dict[str, list[str]] = {}
        for name, spec in self.specs.items():
            missing = [k for k in spec.networks if k not in self.nets]
            if missing:
                raise ConfigError(f"recipe '{recipe.name}': optimizer '{name}' names unknown network(s) "
                                  f"{', '.join(missing)} (networks: {', '.join(self.nets)})")
            lr = spec.lr
            if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
                raise ConfigError(f"recipe '{recipe.name}': optimizer '{name}' has learning rate {lr!r}; "
                                  f"it must be a finite number > 0")
            params = [p for k in spec.networks for p in self.nets[k].parameters()]
            self.optimizers[name] = _adam(params, spec, device)
            self.owned[name] = list(spec.networks)
        self.phases = recipe.phases()
        for phase in self.phases:
            if phase.optimizer not in self.optimizers:
                raise ConfigError(f"recipe '{recipe.name}': phase '{phase.name}' uses unknown optimizer "
                                  f"'{phase.optimizer}' (optimizers: {', '.join(self.optimizers)})")
        self.scaler = devices.make_grad_scaler(device, precision)
        self.skipped = 0
        self._grad_state: dict[str, bool] = {}

    def _maybe_compile(self, compile: bool) -> dict[str, nn.Module]:
        if not compile:
            return dict(self.nets)
        penalty = _has_gradient_penalty(self.recipe)
        out = {}
        for key, net in self.nets.items():
            kind = self.recipe.network_specs.get(key, {}).get("kind", "generator")
            # Double backward through compiled graphs is not supported: the gradient penalty's
            # discriminator stays eager.
            out[key] = net if (kind == "discriminator" and penalty) else torch.compile(net)
        return out

    def _set_trainable(self, optimizer: str) -> None:
        own = set(self.owned[optimizer])
        for key, net in self.nets.items():
            flag = key in own
            if self._grad_state.get(key) is not flag:
                for p in net.parameters():
                    p.requires_grad_(flag)
                self._grad_state[key] = flag

    def step(self, batch: Batch, step: int) -> StepResult:
        """Run every phase due at global step ``step`` (0-based) on a batch already on the device.

        A batch whose losses, or whose resulting weights, buffers or optimiser moments, are not
        finite either stops training (:class:`NonFiniteLoss`) or, with ``skip_nonfinite``, is
        undone: the networks and optimisers are left exactly as they were before the batch.
        """
        result = StepResult()
        cache: dict[str, Any] = {}
        undo = _Undo(self) if self.skip_nonfinite else None
        for phase in self.phases:
            if step % max(1, phase.every):
                continue
            with profiled(f"phase {phase.name}"):
                done = self._phase(phase, batch, cache, step, result, undo)
            if done is not None:
                return done
        if self.dist.enabled:
            bufs = [n for n in self.nets.values() if any(True for _ in n.buffers())]
            if bufs:
                D.broadcast_modules(bufs, buffers_only=True)
        # Finite losses do not make finite weights: a huge step or an overflowing running
        # statistic shows only here. Only a run that skips bad batches needs to know at once
        # (to undo this one): otherwise the next step's losses, or the checkpoint's own check,
        # stop the run with the last checkpoint intact, and the per-step pass over every
        # weight and moment (tens of ms at the paper's sizes) is not paid.
        if self.skip_nonfinite:
            bad_part = self.nonfinite_part()
            if D.any_rank(bad_part is not None, self.device, self.dist):
                return self._skip(result, undo)
        return result

    def _phase(self, phase: Phase, batch: Batch, cache: dict[str, Any], step: int, result: StepResult,
               undo: _Undo | None) -> StepResult | None:
        """One phase of :meth:`step`; returns the step's result when the batch is skipped."""
        opt = self.optimizers[phase.optimizer]
        self._set_trainable(phase.optimizer)
        opt.zero_grad(set_to_none=True)
        with profiled(f"{phase.name}: forward + loss"), devices.autocast(self.device, self.precision), \
                W.fast_convolutions(self._conv_workspace if self.winograd else None):
            terms = phase.loss(batch, cache)
        if not terms:
            return None
        values = torch.stack([_scalar(t, phase.name, name).detach().float() for name, t in terms.items()])
        finite = bool(torch.isfinite(values).all().item())
        if D.any_rank(not finite, self.device, self.dist):
            numbers = values.tolist()
            bad = next(((n, v) for n, v in zip(terms, numbers) if not math.isfinite(v)), (phase.name, math.nan))
            if not self.skip_nonfinite:
                raise NonFiniteLoss(step + 1, bad[0], bad[1])
            return self._skip(result, undo)
        total = sum(terms.values())
        with profiled(f"{phase.name}: backward"):
            if self.scaler is not None:
                self.scaler.scale(total).backward()
            else:
                total.backward()
        if self.dist.enabled:
            D.average_gradients(opt_params(opt), self.dist.world_size)
        if undo is not None:
            undo.before_step(opt)
        with profiled(f"{phase.name}: optimizer"):
            if self.scaler is not None:
                self.scaler.step(opt)
                self.scaler.update()
            else:
                opt.step()
        result.terms.update(zip(terms, values.tolist()))
        return None

    def _skip(self, result: StepResult, undo: _Undo | None) -> StepResult:
        for opt in self.optimizers.values():
            opt.zero_grad(set_to_none=True)
        if undo is not None:
            undo.restore()
        self.skipped += 1
        result.skipped = True
        result.terms.clear()
        return result

    def state_groups(self) -> dict[str, list[torch.Tensor]]:
        """Every tensor a checkpoint holds for the networks and optimisers, by part name."""
        groups: dict[str, list[torch.Tensor]] = {}
        for key, net in self.nets.items():
            groups[f"network {key}"] = [*net.parameters(), *net.buffers()]
        for name, opt in self.optimizers.items():
            groups[f"optimizer {name}"] = [t for st in opt.state.values() for t in st.values()
                                           if isinstance(t, torch.Tensor)]
        return groups

    def nonfinite_part(self) -> str | None:
        """The first network or optimiser holding a NaN or Inf (None when all are finite)."""
        return first_nonfinite(self.state_groups())

    def learning_rates(self) -> dict[str, float]:
        return {f"lr/{name}": float(opt.param_groups[0]["lr"]) for name, opt in self.optimizers.items()}


def profiled(name: str) -> contextlib.AbstractContextManager[Any]:
    """A named range for ``torch.profiler`` (``gantrans bench train --profile``); nothing otherwise."""
    if torch.autograd._profiler_enabled():
        return torch.profiler.record_function(name)
    return contextlib.nullcontext()


class _Undo:
    """What one batch may change, saved so a skipped batch changes nothing.

    Buffers (running statistics move in every forward pass) are saved up front; an
    optimiser's parameters and moments just before it steps. Costs one copy of what is saved,
    only with ``skip_nonfinite``.
    """

    def __init__(self, engine: Engine):
        self.buffers = [(b, b.detach().clone()) for net in engine.nets.values() for b in net.buffers()]
        self.params: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.states: list[tuple[torch.optim.Optimizer, dict[Any, dict[str, Any]]]] = []
        self.scaler = engine.scaler
        self.scaler_state = engine.scaler.state_dict() if engine.scaler is not None else None

    def before_step(self, opt: torch.optim.Optimizer) -> None:
        with torch.no_grad():
            self.params += [(p, p.detach().clone()) for p in opt_params(opt)]
        saved = {p: {k: (v.detach().clone() if isinstance(v, torch.Tensor) else v) for k, v in opt.state[p].items()}
                 for p in opt_params(opt) if p in opt.state}
        self.states.append((opt, saved))

    def restore(self) -> None:
        with torch.no_grad():
            for live, saved in (*self.buffers, *self.params):
                live.copy_(saved)
        for opt, saved in reversed(self.states):
            for p in opt_params(opt):
                if p in saved:
                    opt.state[p] = saved[p]
                else:
                    opt.state.pop(p, None)
        if self.scaler is not None and self.scaler_state:
            self.scaler.load_state_dict(self.scaler_state)


def first_nonfinite(groups: Mapping[str, list[torch.Tensor]]) -> str | None:
    """The name of the first group holding a NaN or Inf (None when all are finite).

    One fused norm over every tensor and one device sync: a tensor is finite when its
    2-norm is. A non-finite norm can also be overflow of huge finite values, so only those
    few tensors are then checked element by element.
    """
    flat = [(name, t.detach()) for name, tensors in groups.items() for t in tensors
            if t.is_floating_point() and t.numel()]
    if not flat:
        return None
    tensors = [t for _, t in flat]
    try:
        norms = torch._foreach_norm(tensors)
    except (AttributeError, RuntimeError, TypeError):  # no fused kernel for this mix
        norms = [torch.linalg.vector_norm(t) for t in tensors]
    device = norms[0].device
    finite = torch.isfinite(torch.stack([n.float().to(device) for n in norms]))
    for i in (~finite).nonzero().flatten().tolist():
        if not bool(torch.isfinite(tensors[i]).all()):
            return flat[i][0]
    return None


def opt_params(opt: torch.optim.Optimizer) -> list[nn.Parameter]:
    return [p for group in opt.param_groups for p in group["params"]]


def _scalar(t: Any, phase: str, name: str) -> torch.Tensor:
    if not isinstance(t, torch.Tensor) or t.numel() != 1:
        raise ConfigError(f"phase '{phase}': loss term '{name}' must be a scalar tensor")
    return t.reshape(())


def _adam(params: list[nn.Parameter], spec: Any, device: torch.device) -> torch.optim.Adam:
    """Fused Adam where torch has it for the device, multi-tensor ``foreach`` otherwise.

    Fused is one kernel over all parameters on CUDA; on the CPU it is also ~5x faster than
    ``foreach`` (measured: 26.5M parameters, 0.10 s -> 0.02 s per step).
    """
    kwargs = dict(lr=spec.lr, betas=tuple(spec.betas), weight_decay=spec.weight_decay)
    if device.type in ("cuda", "cpu"):
        try:
            return torch.optim.Adam(params, fused=True, **kwargs)
        except (RuntimeError, ValueError):  # an older torch or an unsupported dtype
            pass
    return torch.optim.Adam(params, foreach=True, **kwargs)


def adam_impl(opt: torch.optim.Optimizer) -> dict[str, Any]:
    """The implementation switches of an optimiser, to re-apply after loading another device's state."""
    group = opt.param_groups[0]
    return {k: group[k] for k in ("fused", "foreach") if k in group}


def _has_gradient_penalty(recipe: Recipe) -> bool:
    """Whether the run's adversarial loss (the ``loss`` option, when the recipe has one) uses a penalty."""
    built = getattr(recipe, "loss", None)  # the loss the recipe built, with its options
    if built is not None and hasattr(built, "gradient_penalty_weight"):
        return float(built.gradient_penalty_weight or 0.0) > 0
    name = recipe.config.get("loss")
    if not isinstance(name, str):
        return True  # unknown: be safe and keep discriminators eager
    try:
        loss = build_loss(name)
    except GantransError:
        return True
    return float(getattr(loss, "gradient_penalty_weight", 0.0) or 0.0) > 0


def _describe_network(key: str, spec: Mapping[str, Any]) -> str:
    from gantrans.plugins.registry import Origin

    origin = Origin(str(spec.get("plugin") or "?"), spec.get("distribution"), spec.get("version"))
    return f"network '{spec.get('name', key)}' ({origin.describe()}, key {key})"


def size_rule(spec: Mapping[str, Any]) -> str:
    """A network's declared size rule in words."""
    return (f"a multiple of {int(spec.get('size_multiple', 1) or 1)}, at least "
            f"{int(spec.get('min_size', 1) or 1)} px")


def check_generator_sizes(recipe: Recipe, nets: Mapping[str, nn.Module], device: torch.device) -> None:
    """Run each image-to-image generator once, in eval mode, on a blank image of the data's size.

    A network whose registered size rule is too loose (or that crashes at a size the rule
    allows) would otherwise stop the first step with a shape error naming neither the network
    nor its rule. Eval mode and no gradients: no RNG, weights or running statistics change.
    """
    size = int(recipe.data.size)
    for key, net in nets.items():
        spec = recipe.network_specs.get(key) or {}
        if spec.get("kind") != "generator" or spec.get("input", "image") != "image":
            continue
        channels = (spec.get("options") or {}).get("in_channels")
        if not isinstance(channels, int):
            channels = next((m.in_channels for m in net.modules() if isinstance(getattr(m, "in_channels", None), int)),
                            None)
        if not channels:
            continue
        who = (f"{_describe_network(key, spec)} is registered for sizes {size_rule(spec)}, but at "
               f"{size}x{size} px")
        fix = "; register the size rule it really needs (size_multiple, min_size) or change --crop-size"
        training = net.training
        net.eval()
        try:
            with torch.no_grad():
                out = net(torch.zeros(1, channels, size, size, device=device))
        except Exception as exc:  # noqa: BLE001 - any failure here is the network's, named below
            first = (str(exc).strip().splitlines() or [""])[0]
            raise ConfigError(f"{who} it fails ({type(exc).__name__}: {first}){fix}") from exc
        finally:
            net.train(training)
        wanted = (spec.get("options") or {}).get("out_channels")
        if isinstance(out, torch.Tensor) and out.dim() == 4 and isinstance(wanted, int) and out.shape[1] != wanted:
            raise ConfigError(f"{_describe_network(key, spec)} was built with out_channels={wanted} and returns "
                              f"{out.shape[1]} channels; its output layer must follow out_channels")
        if isinstance(out, torch.Tensor) and out.dim() == 4 and tuple(out.shape[2:]) != (size, size):
            raise ConfigError(f"{who} it returns {out.shape[3]}x{out.shape[2]}; a translation generator must "
                              f"keep the size{fix}")


def batch_problem(spec: Any, batch: Any) -> str | None:
    """What is wrong with a batch for its data spec (an image key missing, not NCHW, channels
    other than the spec's, image keys of different sizes), or None.

    Why: a data format is plugin code, and a batch that breaks its own spec would otherwise fail
    deep in a network with a shape error that reads like the network's fault.
    """
    if not isinstance(batch, Mapping):
        return f"its batches are {type(batch).__name__}, not dicts of images"
    sizes = {}
    for key, channels in dict(getattr(spec, "channels", {}) or {}).items():
        x = batch.get(key)
        if not isinstance(x, torch.Tensor):
            return f"its items have no image '{key}' (they have: {', '.join(map(str, batch)) or 'nothing'})"
        if x.dim() != 4 or x.shape[1] != channels:
            return (f"its '{key}' images are {'x'.join(map(str, x.shape[1:]))} (channels x height x width) where "
                    f"the data's spec says {channels} channel(s)")
        sizes[key] = tuple(x.shape[2:])
    if len(set(sizes.values())) > 1:
        return "its images differ in size: " + ", ".join(f"'{k}' {w}x{h}" for k, (h, w) in sizes.items())
    return None


def first_step_error(recipe: Recipe, exc: BaseException, batch: Any = None, data_format: str | None = None) -> ConfigError:
    """One line for a failure in a run's first step: the recipe, the size and every network's rule,
    or, where the batch itself breaks the data's spec, the data format that made it."""
    first = (str(exc).strip().splitlines() or [""])[0]
    problem = batch_problem(recipe.data, batch) if batch is not None else None
    if problem is not None:
        from gantrans.data import describe_format

        who = describe_format(data_format) if data_format else "the data set"
        return ConfigError(f"recipe '{recipe.name}' failed in its first training step ({type(exc).__name__}: "
                           f"{first}): {who} made the batch, and {problem}; report it to the data format's author")
    nets = "; ".join(f"{_describe_network(k, s)}: sizes {size_rule(s)}" for k, s in recipe.network_specs.items())
    return ConfigError(f"recipe '{recipe.name}' failed in its first training step at {recipe.data.size} px "
                       f"({type(exc).__name__}: {first}); {nets or 'no registered networks'} — a network whose "
                       f"size rule is too loose fails like this (docs/plugins.md, 'Size rules')")
