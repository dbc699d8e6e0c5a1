"""Winograd convolutions for float32 training on the CPU: the same 3x3 convolutions, 4x fewer products.

Why: PyTorch computes a CPU convolution with oneDNN's direct algorithm, which on a 2-core Xeon
already runs the ResNet generators' 3x3 convolutions at 240-330 GFLOP/s, close to the sgemm
peak (~333). Those convolutions are 88 % of a CycleGAN step's arithmetic, so in float32 no
amount of trimming around them made the step faster than the reference's plain loop by more
than 1.03x at 128 px (issue 18). Winograd's minimal filtering F(4x4, 3x3) (Lavin & Gray, 2016)
computes each 4x4 output tile from a 6x6 input tile with 36 products per channel pair instead
of 144; the products become 36 independent matrix products that MKL runs near its peak. cuDNN
makes the same choice on a GPU; nothing in torch offers it on a CPU.

The numbers are the convolution's, rounded differently: about 1e-5 of the output's largest
value for one convolution, against about 1e-6 for the direct one. Through a whole first
CycleGAN step (whose gradients are ill-conditioned: instance norm subtracts near-equal terms)
the weight gradients are off by about 1e-2 of their largest value against float64, where the
direct convolution is off by 5e-4 to 4e-3 and bf16 autocast, the default on CPUs that have it,
by 0.4 to 0.5 (tests/test_winograd.py). Backward is written out (:class:`_Winograd`): it
recomputes the input's transform rather than keeping it, reuses a few scratch buffers
(:class:`Workspace`), and takes over a pad layer just before the convolution so that only the
unpadded input is kept. A CycleGAN step at 128 px holds less memory than with the direct
convolution.

Only the training step uses it (:func:`fast_convolutions`, entered by the Engine in float32 on a
CPU, not under ``torch.compile`` or a gradient penalty), and only where it pays off
(:func:`pays_off`); export, sampling and inference keep torch's own convolution, so exported
graphs and their parity checks are unchanged.
"""

from __future__ import annotations

import contextlib
import os
import weakref
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.overrides import TorchFunctionMode

__all__ = ["ENV_SWITCH", "Workspace", "allowed", "conv3x3", "fast_convolutions", "pays_off"]

# F(4x4, 3x3) as in Lavin & Gray (2016), for correlation (what CNNs call convolution):
# Y = A^T [(G g G^T) * (B^T d B)] A, with d a 6x6 input tile and g a 3x3 filter.
_BT = ((4, 0, -5, 0, 1, 0), (0, -4, -4, 1, 1, 0), (0, 4, -4, -1, 1, 0),
       (0, -2, -1, 2, 1, 0), (0, 2, -1, -2, 1, 0), (0, 4, 0, -5, 0, 1))
_G = ((1 / 4, 0, 0), (-1 / 6, -1 / 6, -1 / 6), (-1 / 6, 1 / 6, -1 / 6),
      (1 / 24, 1 / 12, 1 / 6), (1 / 24, -1 / 12, 1 / 6), (0, 0, 1))
_AT = ((1, 1, 1, 1, 1, 0), (0, 1, -1, 2, -2, 0), (0, 1, 1, 4, 4, 0), (0, 1, -1, 8, -8, 1))
TILE, SPAN = 4, 6  # output tile side, input tile side (TILE + 3 - 1)

#: Environment variable that switches Winograd off in training (``0``), e.g. to check whether
#: a result depends on the algorithm.
ENV_SWITCH = "GANTRANS_WINOGRAD"


def allowed() -> bool:
    """False when the user switched Winograd off (``GANTRANS_WINOGRAD=0``)."""
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


#: Smallest channel count (input and output) and smallest number of 4x4 output tiles in a call
#: for which the Winograd form was faster than oneDNN's direct convolution, forward and
#: backward together, on the 2-core Xeon (table in docs/benchmarks.md): below them the
#: transforms cost more than the products they save.
MIN_CHANNELS = 256
MIN_TILES = 16


def _kron(a: Any, b: Any) -> Tensor:
    t = torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
    return torch.kron(*t).float()


# 2-D transforms as one matrix each, on tiles flattened row-major: V = KB @ d, U = KG @ g, Y = KA @ M.
_KB, _KG, _KA = _kron(_BT, _BT), _kron(_G, _G), _kron(_AT, _AT)


class Workspace:
    """Scratch buffers reused from call to call, one per role, grown to the largest call seen.

    Why: a call needs five transform-sized temporaries (up to 9.4 MB each for CycleGAN at
    128 px); allocated afresh each time, glibc's allocator kept about 600 MB more resident than
    with the direct convolution, and page faults made steps uneven. With four shared buffers
    (30 MB there) only the results, the output and the gradients, are new tensors, as with
    torch's own convolution. One workspace serves one thread of calls (an Engine owns one).
    """

    def __init__(self) -> None:
        self.buffers: dict[str, Tensor] = {}

    def get(self, role: str, *shape: int) -> Tensor:
        size = 1
        for n in shape:
            size *= n
        buf = self.buffers.get(role)
        if buf is None or buf.numel() < size:
            buf = self.buffers[role] = torch.empty(size)
        return buf[:size].view(shape)


def _tiling(h: int, w: int) -> tuple[int, int, int, int]:
    """For an input of ``h`` x ``w`` (padding included): the output's size and its 4x4 tiles,
    ``(ho, wo, tile rows, tile columns)``; the last row and column of tiles may overhang."""
    ho, wo = h - 2, w - 2
    return ho, wo, -(-ho // TILE), -(-wo // TILE)


def _tiles(work: Workspace, x: Tensor, th: int, tw: int) -> Tensor:
    """The 6x6 input tiles at stride 4, transformed: a (36, C, N * th * tw) matrix (a workspace view)."""
    n, c, h, w = x.shape
    rows, cols = TILE * th + 2, TILE * tw + 2
    if (rows, cols) != (h, w):
        x = F.pad(x, (0, cols - w, 0, rows - h))
    d = work.get("tiles", SPAN, SPAN, c, n, th, tw)
    d.copy_(x.unfold(2, SPAN, TILE).unfold(3, SPAN, TILE).permute(4, 5, 1, 0, 2, 3))
    v = work.get("V", SPAN * SPAN, c * n * th * tw)
    torch.mm(_KB, d.view(SPAN * SPAN, -1), out=v)
    return v.view(SPAN * SPAN, c, n * th * tw)


def _filters(work: Workspace, w: Tensor) -> Tensor:
    """The transformed filters, (36, K, C) (a workspace view)."""
    k, c = w.shape[:2]
    u = work.get("U", SPAN * SPAN, k * c)
    torch.mm(_KG, w.reshape(k * c, 9).t(), out=u)
    return u.view(SPAN * SPAN, k, c)


#: Padding modes a convolution can take over from the ``F.pad`` before it (the module layout
#: ``ReflectionPad2d`` / ``ReplicationPad2d`` / ``ZeroPad2d`` then ``Conv2d``, and ``Conv2d``'s own
#: zero padding), with the op that sends a padded gradient back to the unpadded input.
_PAD_BACKWARD = {
    "reflect": torch.ops.aten.reflection_pad2d_backward,
    "replicate": torch.ops.aten.replication_pad2d_backward,
    "constant": None,  # zeros: the gradient of the border is dropped
}


def _unpad(grad: Tensor, x: Tensor, mode: str, pad: tuple[int, int, int, int]) -> Tensor:
    backward = _PAD_BACKWARD[mode]
    if backward is not None:
        return backward(grad, x, list(pad))
    left, right, top, bottom = pad
    return grad[:, :, top:grad.shape[2] - bottom, left:grad.shape[3] - right]


class _Winograd(torch.autograd.Function):
    """``conv2d(pad(x), w, b)`` for a 3x3 filter at stride 1 by F(4x4, 3x3).

    ``padded`` is ``pad(x)`` already made (``F.pad(x, pad, mode)``; ``x`` itself when ``pad`` is
    None); only ``x`` is kept for backward, where the padded copy is made again. Why: with the
    pad as its own layer, its output is what the convolution keeps, one more activation per
    convolution (127 MB in a CycleGAN step at 128 px) beside the unpadded one that the layer
    before keeps anyway.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, w: Tensor, b: Tensor | None, work: Workspace, padded: Tensor,
                pad: tuple[str, tuple[int, int, int, int]] | None) -> Tensor:
        n, _, h, wd = padded.shape
        k = w.shape[0]
        ho, wo, th, tw = _tiling(h, wd)
        t = n * th * tw
        m = work.get("M", SPAN * SPAN, k, t)
        torch.bmm(_filters(work, w), _tiles(work, padded, th, tw), out=m)
        y16 = work.get("tiles", TILE * TILE, k * t)  # the tiles are spent
        torch.mm(_KA, m.view(SPAN * SPAN, -1), out=y16)
        y = torch.empty(n, k, TILE * th, TILE * tw, dtype=x.dtype)
        y.view(n, k, th, TILE, tw, TILE).copy_(y16.view(TILE, TILE, k, n, th, tw).permute(3, 2, 4, 0, 5, 1))
        if (TILE * th, TILE * tw) != (ho, wo):
            y = y[:, :, :ho, :wo].contiguous()
        if b is not None:
            y += b.view(1, -1, 1, 1)
        ctx.save_for_backward(x, w)
        ctx.has_bias, ctx.work, ctx.pad = b is not None, work, pad
        return y

    @staticmethod
    def backward(ctx: Any, gy: Tensor) -> tuple[Tensor | None, ...]:
        x, w = ctx.saved_tensors
        work, pad = ctx.work, ctx.pad
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        padded = x if pad is None else F.pad(x, pad[1], pad[0])
        n, c, h, wd = padded.shape
        k = w.shape[0]
        ho, wo, th, tw = _tiling(h, wd)
        t = n * th * tw
        db = gy.sum((0, 2, 3)) if need_b and ctx.has_bias else None
        if (TILE * th, TILE * tw) != (ho, wo):
            gy = F.pad(gy, (0, TILE * tw - wo, 0, TILE * th - ho))
        g16 = work.get("tiles", TILE, TILE, k, n, th, tw)
        g16.copy_(gy.reshape(n, k, th, TILE, tw, TILE).permute(3, 5, 1, 0, 2, 4))
        dm = work.get("M", SPAN * SPAN, k, t)
        torch.mm(_KA.t(), g16.view(TILE * TILE, -1), out=dm.view(SPAN * SPAN, -1))
        dx = dw = None
        if need_w:
            du = work.get("U", SPAN * SPAN, k, c)
            torch.bmm(dm, _tiles(work, padded, th, tw).transpose(1, 2), out=du)
            dw = torch.mm(du.view(SPAN * SPAN, -1).t(), _KG).view(k, c, 3, 3)
        del padded
        if need_x:
            dv = work.get("tiles", SPAN * SPAN, c, t)  # spent too; read before the tiles are written below
            torch.bmm(_filters(work, w).transpose(1, 2), dm, out=dv)
            dd = work.get("V", SPAN * SPAN, c * t)
            torch.mm(_KB.t(), dv.view(SPAN * SPAN, -1), out=dd)
            cols = work.get("tiles", n, c, SPAN, SPAN, th, tw)
            cols.copy_(dd.view(SPAN, SPAN, c, n, th, tw).permute(3, 2, 0, 1, 4, 5))
            rows_, cols_ = TILE * th + 2, TILE * tw + 2
            dx = F.fold(cols.view(n, c * SPAN * SPAN, th * tw), (rows_, cols_), SPAN, stride=TILE)
            if (rows_, cols_) != (h, wd):
                dx = dx[:, :, :h, :wd]
            if pad is not None:
                dx = _unpad(dx, x, *pad)
        return dx, dw, db, None, None, None


def pays_off(x: Tensor, w: Tensor, stride: Any = 1, padding: Any = 0, dilation: Any = 1, groups: int = 1) -> bool:
    """Whether :func:`conv3x3` takes this ``conv2d`` call: float32 on the CPU, a 3x3 filter at
    stride 1 without dilation or groups, numeric padding, and enough channels and tiles."""
    if not (isinstance(x, Tensor) and isinstance(w, Tensor)) or x.dim() != 4 or w.dim() != 4:
        return False
    if x.device.type != "cpu" or x.dtype != torch.float32 or w.dtype != torch.float32:
        return False
    if tuple(w.shape[2:]) != (3, 3) or groups != 1 or isinstance(padding, str):
        return False
    if _pair(stride) != (1, 1) or _pair(dilation) != (1, 1) or not x.is_contiguous():
        return False
    ph, pw = _pair(padding)
    k, c = w.shape[:2]
    if min(k, c) < MIN_CHANNELS:
        return False
    ho, wo, th, tw = _tiling(x.shape[2] + 2 * ph, x.shape[3] + 2 * pw)
    return ho > 0 and wo > 0 and x.shape[0] * th * tw >= MIN_TILES


def conv3x3(x: Tensor, w: Tensor, b: Tensor | None = None, padding: Any = 0,
            workspace: Workspace | None = None, padded_from: tuple[Tensor, str, tuple[int, ...]] | None = None
            ) -> Tensor:
    """``F.conv2d(x, w, b, padding=padding)`` for a 3x3 filter at stride 1, by Winograd F(4x4, 3x3).

    ``workspace`` holds the scratch buffers between calls (a new one for this call if None).
    ``padded_from`` = ``(source, mode, pad)`` says that ``x`` is ``F.pad(source, pad, mode)``:
    the gradient then goes to ``source`` directly and only ``source`` is kept for backward."""
    work = workspace if workspace is not None else Workspace()
    ph, pw = _pair(padding)
    if padded_from is not None and not (ph or pw):
        source, mode, pad = padded_from
        return _Winograd.apply(source, w, b, work, x.detach(), (mode, tuple(pad)))
    if ph or pw:
        pad4 = (pw, pw, ph, ph)
        return _Winograd.apply(x, w, b, work, F.pad(x.detach(), pad4), ("constant", pad4))
    return _Winograd.apply(x, w, b, work, x.detach(), None)


def _pair(v: Any) -> tuple[int, int]:
    if isinstance(v, int):
        return v, v
    v = tuple(v)
    return (v[0], v[0]) if len(v) == 1 else (v[0], v[1])


class _Convolutions(TorchFunctionMode):
    """Sends the ``conv2d`` calls that :func:`pays_off` accepts to :func:`conv3x3`, with the
    ``F.pad`` just before when the convolution reads its result (see :class:`_Winograd`)."""

    def __init__(self, workspace: Workspace):
        super().__init__()
        self.workspace = workspace
        self._last_pad: tuple[weakref.ref[Tensor], weakref.ref[Tensor], str, tuple[int, ...]] | None = None

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func is F.pad:
            out = func(*args, **kwargs)
            self._last_pad = _fusable_pad(out, *args, **kwargs)
            return out
        if func is F.conv2d:
            call = _conv2d_arguments(*args, **kwargs)
            x = call["input"]
            if pays_off(x, call["weight"], call["stride"], call["padding"], call["dilation"], call["groups"]):
                return conv3x3(x, call["weight"], call["bias"], call["padding"], self.workspace,
                               self._padded_from(x))
        return func(*args, **kwargs)

    def _padded_from(self, x: Tensor) -> tuple[Tensor, str, tuple[int, ...]] | None:
        if self._last_pad is None:
            return None
        out_ref, source_ref, mode, pad = self._last_pad
        source = source_ref()
        if out_ref() is not x or source is None:
            return None
        return source, mode, pad


def _fusable_pad(out: Any, input: Any, pad: Any, mode: str = "constant", value: Any = None
                 ) -> tuple[weakref.ref[Tensor], weakref.ref[Tensor], str, tuple[int, ...]] | None:
    """What a following convolution needs to take this ``F.pad`` over, if it can: a 4-d float32
    input, four border widths, a mode with a known backward (zeros only for ``constant``)."""
    if not (isinstance(out, Tensor) and isinstance(input, Tensor)) or input.dim() != 4 or len(pad) != 4:
        return None
    if mode not in _PAD_BACKWARD or (mode == "constant" and value not in (None, 0, 0.0)):
        return None
    return weakref.ref(out), weakref.ref(input), mode, tuple(int(p) for p in pad)


def _conv2d_arguments(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
                      padding: Any = 0, dilation: Any = 1, groups: int = 1) -> dict[str, Any]:
    return {"input": input, "weight": weight, "bias": bias, "stride": stride, "padding": padding,
            "dilation": dilation, "groups": groups}


@contextlib.contextmanager
def fast_convolutions(workspace: Workspace | None) -> Iterator[None]:
    """Within this context, the float32 3x3 convolutions on the CPU that pay off run by Winograd,
    with ``workspace``'s buffers; ``None`` leaves every convolution to torch."""
    if workspace is None:
        yield
        return
    with _Convolutions(workspace):
        yield
