"""The fine-tuning loss: packed rows equal each example alone (and differ without the block mask), the answer-only
loss equals a hand computation (every assistant turn, no prompt token), ignore_index in the fused loss."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from polyglot_ko import UserError, build_model
from polyglot_ko.chat_template import render_chat_with_spans
from polyglot_ko.finetune.data import load_examples, tokenize_messages
from polyglot_ko.finetune.packing import block_causal_mask, pack_examples, rows_to_tensors
from polyglot_ko.finetune.train import SFTTrainingModule
from polyglot_ko.train.loss import linear_cross_entropy

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model():
    return build_model("tiny", seed=0).eval()


@pytest.fixture(scope="module")
def examples(tok):
    examples, stats = load_examples("ko-instruct", tok, max_length=256)
    assert stats.kept == stats.records == 252
    return examples[:40]


def per_example_loss(model, ids: list[int], labels: list[int]) -> torch.Tensor:
    """Summed next-token loss of one example run alone (no mask, positions 0..n-1), by F.cross_entropy."""
    logits = model(torch.tensor([ids])).logits[0, :-1]
    return F.cross_entropy(logits, torch.tensor(labels[1:]), ignore_index=-100, reduction="sum")


@torch.no_grad()
def test_packed_rows_equal_each_example_alone_and_differ_without_the_mask(model, examples):
    rows = pack_examples(examples, 256)
    assert len(rows) < len(examples) and max(len(r.example_indices) for r in rows) >= 3  # really packed
    batch = rows_to_tensors(rows)
    packed = model(batch["input_ids"], attention_mask=batch["attention_mask"], position_ids=batch["position_ids"])
    plain = model(batch["input_ids"])  # the same rows with plain causal attention and positions 0..255
    module = SFTTrainingModule(model, packed=True, chunk=37)
    worst = leak = 0.0
    for r, row in enumerate(rows):
        start, total = 0, torch.zeros((), dtype=torch.float64)
        for i, n in zip(row.example_indices, row.seq_lens, strict=False):
            ex = examples[i]
            alone = model(torch.tensor([ex.input_ids])).logits[0]
            worst = max(worst, (packed.logits[r, start : start + n] - alone).abs().max().item())
            if start:
                leak = max(leak, (plain.logits[r, start : start + n] - alone).abs().max().item())
            total += per_example_loss(model, ex.input_ids, ex.labels).double()
            start += n
        # The training module's summed loss of the row = the sum of its examples' losses run alone.
        one = {k: batch[k][r : r + 1] for k in ("input_ids", "labels", "position_ids", "document_ids")}
        torch.testing.assert_close(module(**one).double(), total, rtol=1e-5, atol=1e-4)
    assert worst <= 1e-5, worst
    assert leak > 1e-2, leak  # without the block mask (and restarting positions) later examples see earlier ones


def test_unpacked_module_needs_no_mask(model, examples):
    from polyglot_ko.finetune.packing import pad_examples

    rows = pad_examples(examples[:6])
    batch = rows_to_tensors(rows)
    module = SFTTrainingModule(model, packed=False)
    want = sum(per_example_loss(model, e.input_ids, e.labels) for e in examples[:6])
    with torch.no_grad():
        got = module(**{k: batch[k] for k in ("input_ids", "labels", "position_ids", "document_ids")})
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-4)


def test_answer_only_loss_equals_a_hand_computation_over_every_assistant_turn(model, tok):
    messages = [
        {"role": "system", "content": "친절하게 답하세요."},
        {"role": "user", "content": "서울은 어느 나라의 수도인가요?"},
        {"role": "assistant", "content": "대한민국의 수도입니다."},
        {"role": "user", "content": "인구는요?"},
        {"role": "assistant", "content": "약 940만 명입니다."},
    ]
    ids, labels = tokenize_messages(messages, tok)
    # By hand: the rendered text, its assistant character spans, each token's characters.
    text, spans = render_chat_with_spans(messages, False)
    enc = tok.backend.encode(text, add_special_tokens=False)
    assert enc.ids == ids
    in_answer = [any(s < end and e > b for b, end in spans) for s, e in enc.offsets]  # overlaps an answer
    trained = [i for i in range(1, len(ids)) if in_answer[i]]
    # Both answers are trained; no token of the system or user text is.
    for b, end in spans:
        assert any(b <= enc.offsets[i][0] < end for i in trained)
    for i, (s, e) in enumerate(enc.offsets):
        if "질문" in text[s:e] or "서울" in text[s:e] or "인구" in text[s:e]:
            assert labels[i] == -100
    assert [i for i, t in enumerate(labels) if t != -100] == trained
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([ids])).logits[0].double(), -1)
        hand = -sum(logp[i - 1, ids[i]] for i in trained) / len(trained)
        module = SFTTrainingModule(model, packed=False)
        t = torch.tensor([ids])
        ours = module(t, torch.tensor([labels])) / len(trained)
        everything = module(t, t.clone()) / (len(ids) - 1)
    torch.testing.assert_close(ours.double(), hand, rtol=1e-5, atol=1e-6)
    assert abs(everything.item() - ours.item()) > 1e-3  # the mask matters: prompts would change the loss


def test_fused_loss_ignore_index_matches_reference_and_gives_zero_grads():
    g = torch.Generator().manual_seed(0)
    h = torch.randn(40, 16, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(300, 16, generator=g, dtype=torch.float64, requires_grad=True)
    t = torch.randint(0, 300, (40,), generator=g)
    t[::3] = -100
    ref = F.cross_entropy(h @ w.t(), t, ignore_index=-100, reduction="sum")
    gh_ref, gw_ref = torch.autograd.grad(ref, (h, w))
    ours = linear_cross_entropy(h, w, t, chunk=7, reduction="sum")
    gh, gw = torch.autograd.grad(ours, (h, w))
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-8)
    torch.testing.assert_close(gh, gh_ref, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(gw, gw_ref, rtol=1e-10, atol=1e-12)
    assert gh[::3].abs().max() == 0  # ignored rows get no gradient
    mean = linear_cross_entropy(h, w, t, chunk=7)
    torch.testing.assert_close(mean, ref / (t != -100).sum(), rtol=1e-10, atol=1e-10)
    none = linear_cross_entropy(h, w, torch.full_like(t, -100), reduction="sum")
    assert none.item() == 0.0
    none.backward()
    assert h.grad.abs().max() == 0


def test_block_mask_shape(examples):
    rows = pack_examples(examples[:5], 256)
    mask = block_causal_mask(torch.tensor([rows[0].document_ids]))
    assert mask.shape == (1, 1, 256, 256) and mask.dtype == torch.bool


@pytest.mark.parametrize(
    "name", ["sft-lora-cpu-tiny", "sft-full-cpu-tiny", "sft-lora-1.3b", "sft-full-5.8b", "sft-lora-12.8b"]
)
def test_sft_recipes_load_validate_and_round_trip(name):
    import yaml

    from polyglot_ko.finetune.config import FinetuneConfig, load_finetune_recipe
    from polyglot_ko.train.config import config_from_dict, dump_recipe, load_recipe

    cfg = load_finetune_recipe(name, {"model.init_from": "base", "data.paths": ["d.jsonl"]}).validate()
    assert cfg.data.seq_len == cfg.finetune.max_length and cfg.finetune.method in ("lora", "full")
    assert load_finetune_recipe(name) == config_from_dict(yaml.safe_load(dump_recipe(cfg)), FinetuneConfig).replace(
        **{"model.init_from": None, "data.paths": []}
    )
    with pytest.raises(UserError, match="is a fine-tuning recipe.*polyglot-ko finetune --config"):
        load_recipe(name)  # the pretraining loader says where it belongs
