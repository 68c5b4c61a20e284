"""The fused, chunked output-layer cross-entropy equals PyTorch's reference (loss and both gradients)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from polyglot_ko.model import build_model
from polyglot_ko.train.loss import CausalLMTrainingModule, linear_cross_entropy


@pytest.mark.parametrize("chunk", [7, 64, 1000])
def test_matches_reference_loss_and_grads(chunk):
    g = torch.Generator().manual_seed(0)
    h = torch.randn(50, 16, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(300, 16, generator=g, dtype=torch.float64, requires_grad=True)
    t = torch.randint(0, 300, (50,), generator=g)
    ref = F.cross_entropy(h @ w.t(), t)
    gh_ref, gw_ref = torch.autograd.grad(ref, (h, w))
    ours = linear_cross_entropy(h, w, t, chunk=chunk)
    gh, gw = torch.autograd.grad(ours * 3.0, (h, w))  # a scaled upstream gradient (gradient accumulation)
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-6)
    torch.testing.assert_close(gh, 3.0 * gh_ref, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(gw, 3.0 * gw_ref, rtol=1e-10, atol=1e-12)
    with torch.no_grad():  # the evaluation path (no gradients computed)
        torch.testing.assert_close(
            linear_cross_entropy(h, w, t, chunk=chunk, reduction="sum"), ref * 50, rtol=1e-10, atol=1e-10
        )


def test_training_module_equals_model_loss_and_grads():
    model = build_model("tiny", seed=0)
    tokens = torch.randint(0, 30003, (2, 17), generator=torch.Generator().manual_seed(1))
    # model(tokens, labels=tokens) predicts tokens[:, 1:] from every position but the last: the same targets
    # as the training module's (inputs tokens[:, :-1]), through the model's own forward and F.cross_entropy.
    ref = model(tokens, labels=tokens).loss
    ref.backward()
    ref_grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    root = CausalLMTrainingModule(model, chunk=5)
    ours = root(tokens)
    ours.backward()
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.grad, ref_grads[n], rtol=1e-4, atol=1e-6, msg=n)
