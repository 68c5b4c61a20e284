"""CPU decoding helpers: a faster small-batch linear, and int8 linears; both opt-in, both keep the model's API.

`prepare_for_cpu_decoding(model)`: on this kind of CPU, `F.linear` with 2-32 input rows (batched decoding)
goes through a slow MKL path (8 rows of a 2048x8192 layer take several times as long as 1 row). The same
product written as `W @ x^T` (`addmm` with the weight as the left operand) is markedly faster there for large
weights. The function swaps every `nn.Linear` to a subclass that takes that route for 2-32 rows of a layer
with at least 4M weights on CPU float32 without autograd, and plain `F.linear` otherwise. Parameters, names and the
state dict are unchanged;
`undo=True` swaps back.

`quantize_model(model, "int8")`: the transformer layers' linears become dynamically quantized int8 linears
(per-output-channel int8 weights, activations quantized per call; PyTorch's fbgemm/x86 kernels). The output
layer and embeddings stay float32 (the cache allocation and the logits' precision rely on them). Its quality
cost and speed are measured by benchmarks/bench_decode.py (`--int8`) and tests/test_quantize.py. True
weight-only int8 (`_weight_int8pack_mm`) was measured too, and is several times slower than float32 on this
AVX2 CPU, so it is not offered.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .errors import UserError

MAX_FAST_ROWS = 32
# Below about 4M weights the default route is as fast or faster (measured: 1152x384 loses, 30080x384 and
# 8192x2048 win), so small layers keep F.linear.
MIN_FAST_WEIGHTS = 4 << 20


class CPUDecodeLinear(nn.Linear):
    """`nn.Linear` whose CPU float32 inference with 2..32 rows computes `W @ x^T` (faster there than `x @ W^T`)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.numel() // x.shape[-1] if x.numel() else 0
        if (
            2 <= rows <= MAX_FAST_ROWS
            and self.weight.numel() >= MIN_FAST_WEIGHTS
            and x.device.type == "cpu"
            and x.dtype == torch.float32
            and not (torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad))
        ):
            x2 = x.reshape(rows, x.shape[-1]).t()
            y = torch.addmm(self.bias[:, None], self.weight, x2) if self.bias is not None else self.weight @ x2
            return y.t().reshape(*x.shape[:-1], self.out_features)
        return F.linear(x, self.weight, self.bias)


def prepare_for_cpu_decoding(model: nn.Module, undo: bool = False) -> nn.Module:
    """Switch every `nn.Linear` of `model` to `CPUDecodeLinear` in place (or back with `undo`); returns `model`."""
    for module in model.modules():
        if undo and type(module) is CPUDecodeLinear:
            module.__class__ = nn.Linear
        elif not undo and type(module) is nn.Linear:
            module.__class__ = CPUDecodeLinear
    return model


def quantize_model(model: nn.Module, method: str = "int8") -> nn.Module:
    """Quantize the transformer layers' linears for CPU decoding, in place; returns `model` (inference only)."""
    if method != "int8":
        raise UserError(f"quantize={method!r} is not supported; use int8")
    p = next(model.parameters())
    if p.device.type != "cpu" or p.dtype != torch.float32:
        raise UserError(
            f"int8 quantization needs a float32 model on the CPU (got {p.dtype} on {p.device}); "
            f"load it with dtype='float32', device='cpu'"
        )
    import warnings

    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization announces its move to torchao
        model.eval()
        quantize_dynamic(
            model.gpt_neox.layers, {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=True
        )
    return model


__all__ = ["CPUDecodeLinear", "prepare_for_cpu_decoding", "quantize_model"]
