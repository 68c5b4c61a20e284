"""The training forward pass: the model's `hidden_states`, then a chunked, fused output-layer + cross-entropy.

The output layer is the largest matmul of a small model (30080 x d) and its logits the largest tensor
([tokens, 30080] float32: 0.5 GB for 4096 tokens). A plain `F.cross_entropy(logits.float(), ...)` writes the
logits, an upcast copy, the log-softmax, and in backward a gradient of each, all kept alive together.
`fused_linear_cross_entropy` instead walks the tokens in chunks: logits of one chunk -> softmax in place ->
gradients of the hidden states and of the output weight right away (in the forward pass), so only one chunk's
logits ever exist and the backward pass just scales the stored gradients (Liger-Kernel's
FusedLinearCrossEntropy idea, in plain PyTorch). The softmax and the loss are always float32.

Targets equal to `ignore_index` (-100, transformers' convention; fine-tuning labels on prompts and padding) are
dropped before the output layer, so they cost no matmul and contribute nothing; "mean" is the mean over the
remaining (trained) targets, "sum" their sum. The fine-tuning trainer uses "sum" and divides by the trained
tokens of the whole optimizer step (all micro-batches, all processes), so how a batch is split into micro-batches
or processes does not change the loss or its gradient (see finetune/train.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..model import GPTNeoXForCausalLM

# Rows of logits per chunk: 1024 x 30080 fp32 = 120 MB; smaller chunks make the matmuls less efficient.
DEFAULT_CHUNK = 1024
IGNORE_INDEX = -100


def _chunk_logits(h: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    logits = h @ weight.t()
    # bf16/fp16 logits are upcast for the softmax; float64 (tests) stays float64.
    return logits.to(torch.promote_types(logits.dtype, torch.float32))


class _FusedLinearCE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, chunk: int):
        n = h.shape[0]
        grad_h = torch.empty_like(h)
        grad_w = torch.zeros(weight.shape, dtype=torch.promote_types(weight.dtype, torch.float32), device=weight.device)
        total = torch.zeros((), dtype=torch.promote_types(h.dtype, torch.float32), device=h.device)
        rows = torch.arange(min(chunk, n), device=h.device)
        for s in range(0, n, chunk):
            hc, tc = h[s : s + chunk], targets[s : s + chunk]
            logits = _chunk_logits(hc, weight)
            lse = torch.logsumexp(logits, dim=-1)
            r = rows[: hc.shape[0]]
            total += (lse - logits[r, tc]).sum()
            # d(mean loss)/d(logits) = (softmax - onehot) / n, computed in place over the chunk's logits.
            probs = logits.sub_(lse[:, None]).exp_()
            probs[r, tc] -= 1.0
            probs.mul_(1.0 / n)
            g = probs.to(h.dtype)
            grad_h[s : s + chunk] = g @ weight
            if weight.dtype == grad_w.dtype:
                grad_w.addmm_(g.t(), hc)
            else:
                grad_w += (g.t() @ hc).float()
        ctx.save_for_backward(grad_h, grad_w)
        ctx.weight_dtype = weight.dtype
        return total / n

    @staticmethod
    def backward(ctx, grad_out):
        grad_h, grad_w = ctx.saved_tensors
        return grad_h * grad_out.to(grad_h.dtype), (grad_w * grad_out).to(ctx.weight_dtype), None, None


def linear_cross_entropy(
    h: torch.Tensor,
    weight: torch.Tensor,
    targets: torch.Tensor,
    chunk: int = DEFAULT_CHUNK,
    reduction: str = "mean",
    ignore_index: int | None = IGNORE_INDEX,
) -> torch.Tensor:
    """Mean (or summed) cross entropy of `h @ weight.T` against `targets`, without materialising all logits.

    h: [N, d]; targets: [N]. Rows whose target is `ignore_index` are left out ("mean" = over the others; 0 with a
    gradient of zeros when none is left). With gradients enabled the gradients are computed during this call
    (see the module docstring); without, it only evaluates the loss chunk by chunk.
    """
    if ignore_index is not None:
        keep = targets != ignore_index
        if not bool(keep.all()):
            idx = keep.nonzero().squeeze(1)
            if idx.numel() == 0:
                return (h.sum() * 0.0).float() + (weight.sum() * 0.0).float()
            h, targets = h.index_select(0, idx), targets.index_select(0, idx)
    if torch.is_grad_enabled() and (h.requires_grad or weight.requires_grad):
        loss = _FusedLinearCE.apply(h, weight, targets, chunk)
        return loss * h.shape[0] if reduction == "sum" else loss
    total = torch.zeros((), dtype=torch.promote_types(h.dtype, torch.float32), device=h.device)
    for s in range(0, h.shape[0], chunk):
        total += F.cross_entropy(_chunk_logits(h[s : s + chunk], weight), targets[s : s + chunk], reduction="sum")
    return total if reduction == "sum" else total / h.shape[0]


class CausalLMTrainingModule(nn.Module):
    """Wraps the model for training: `forward(tokens [B, T+1]) -> mean next-token loss` (float32 scalar).

    The model's own forward (`GPTNeoXForCausalLM.hidden_states`) and weights are used unchanged (FSDP,
    activation checkpointing and compile wrap the blocks from outside); only the output layer + loss is
    computed the fused way. The wrapper is the FSDP root,
    so its forward gathers the embeddings, final norm and output layer.
    """

    def __init__(self, model: GPTNeoXForCausalLM, chunk: int = DEFAULT_CHUNK):
        super().__init__()
        self.model = model
        self.chunk = chunk

    def forward(self, tokens: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        inputs, targets = tokens[:, :-1], tokens[:, 1:]
        h = self.model.hidden_states(inputs)  # [B, T, d], after the final LayerNorm
        return linear_cross_entropy(
            h.reshape(-1, h.shape[-1]),
            self.model.embed_out.weight,
            targets.reshape(-1),
            chunk=self.chunk,
            reduction=reduction,
            ignore_index=None,  # pretraining sequences have no padding: every target is trained
        )
