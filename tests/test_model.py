"""The model against transformers' GPTNeoXForCausalLM (the oracle) on the same random weights."""

from __future__ import annotations

import pytest
import torch
from transformers import GPTNeoXForCausalLM as HFGPTNeoX

from polyglot_ko import build_model, save_model
from polyglot_ko.config import CARD_PARAMETERS, PRESETS
from polyglot_ko.model import KVCache

TOL = 1e-4


@pytest.fixture(scope="module", params=["tiny-h128", "tiny-h256", "sequential"])
def pair(request, tmp_path_factory):
    """(ours, transformers') with identical weights. h128 = rotary 0.5 like 1.3b/3.8b/12.8b; h256 = 0.25 like 5.8b."""
    preset = request.param
    config = PRESETS["tiny-h128"].replace(use_parallel_residual=False) if preset == "sequential" else preset
    ours = build_model(config, seed=1).eval()
    folder = tmp_path_factory.mktemp(preset) / "model"
    save_model(ours, folder)
    hf = HFGPTNeoX.from_pretrained(folder, dtype=torch.float32).eval()
    return ours, hf


def _batch(B=3, T=17, pad=(0, 5, 9), seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 30003, (B, T), generator=g)
    mask = torch.ones(B, T, dtype=torch.long)
    for row, n in enumerate(pad[:B]):
        mask[row, :n] = 0
    return ids, mask


@torch.no_grad()
def test_logits_match_transformers(pair):
    ours, hf = pair
    ids, _ = _batch()
    a, b = ours(ids).logits, hf(ids).logits
    assert a.shape == (3, 17, 30080)
    assert (a - b).abs().max().item() <= TOL


@torch.no_grad()
def test_left_padded_batch_matches_transformers(pair):
    ours, hf = pair
    ids, mask = _batch()
    positions = (mask.cumsum(-1) - 1).clamp(min=0)  # what transformers' generate passes for left padding
    a = ours(ids, attention_mask=mask).logits
    b = hf(ids, attention_mask=mask, position_ids=positions).logits
    real = mask.bool()
    assert torch.isfinite(a).all(), "padding positions must stay finite (they feed later layers' keys)"
    assert (a - b)[real].abs().max().item() <= TOL


@torch.no_grad()
def test_left_padding_does_not_change_a_row(pair):
    ours, _ = pair
    ids, mask = _batch()
    padded = ours(ids, attention_mask=mask).logits[2, 9:]
    alone = ours(ids[2:3, 9:]).logits[0]
    assert (padded - alone).abs().max().item() <= TOL


@torch.no_grad()
def test_incremental_decoding_with_cache_matches_transformers(pair):
    ours, hf = pair
    ids, mask = _batch()
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    reference = hf(ids, attention_mask=mask, position_ids=positions).logits
    out = ours(ids[:, :10], attention_mask=mask[:, :10], use_cache=True)
    cache, steps = out.past_key_values, [out.logits]
    for t in range(10, ids.shape[1]):
        steps.append(ours(ids[:, t : t + 1], attention_mask=mask[:, : t + 1], past_key_values=cache).logits)
    assert cache.length == ids.shape[1]
    incremental = torch.cat(steps, dim=1)
    assert (incremental - reference)[mask.bool()].abs().max().item() <= TOL


@torch.no_grad()
def test_cache_chunked_prefill_without_mask(pair):
    """A multi-token chunk on top of a cache (no padding) needs a causal mask offset by the past length."""
    ours, hf = pair
    ids, _ = _batch(B=2, pad=(0, 0))
    reference = hf(ids).logits
    cache = ours.allocate_cache(2, 4)  # deliberately too small: must grow
    first = ours(ids[:, :6], past_key_values=cache).logits
    second = ours(ids[:, 6:], past_key_values=cache).logits
    assert (torch.cat([first, second], 1) - reference).abs().max().item() <= TOL


def test_cache_is_written_in_place_without_reallocation():
    model = build_model("tiny", seed=0).eval()
    cache = model.allocate_cache(2, 32)
    pointers = [t.data_ptr() for t in cache.k + cache.v]
    ids = torch.randint(0, 30003, (2, 8))
    with torch.no_grad():
        model(ids, past_key_values=cache)
        for _ in range(10):
            model(ids[:, :1], past_key_values=cache)
    assert cache.length == 18
    assert [t.data_ptr() for t in cache.k + cache.v] == pointers


def test_cache_select_repeats_rows():
    model = build_model("tiny", seed=0).eval()
    ids = torch.randint(0, 30003, (1, 6))
    nxt = torch.randint(0, 30003, (3, 1))
    with torch.no_grad():
        cache = model(ids, use_cache=True).past_key_values
        expanded = cache.select([0, 0, 0])
        batched = model(nxt, past_key_values=expanded).logits
        for i in range(3):
            alone = model(torch.cat([ids, nxt[i : i + 1]], 1)).logits[:, -1:]
            assert (batched[i : i + 1] - alone).abs().max().item() <= TOL
    assert isinstance(expanded, KVCache) and cache.length == 6


@torch.no_grad()
def test_cache_compose_right_aligns_rows_of_several_caches(pair):
    """Rows taken from two left-padded caches and stacked into one continue decoding as they would alone."""
    ours, _ = pair
    ids, mask = _batch(B=3, T=12, pad=(0, 4, 7))
    a = ours(ids[:2], attention_mask=mask[:2], use_cache=True).past_key_values
    b = ours(ids[2:, 7:], use_cache=True).past_key_values  # 5 real tokens, no padding
    cache, new_mask = KVCache.compose([(a, mask[:2], [1]), (b, torch.ones(1, 5, dtype=torch.long), [0])], extra=3)
    # Row 1 of `a` starts at column 4 (8 real tokens); `b`'s row has 5: the longest span sets the length.
    assert cache.length == 8 and cache.capacity == 11 and cache.batch_size == 2
    assert new_mask.tolist() == [[1] * 8 + [0] * 3, [0] * 3 + [1] * 5 + [0] * 3]
    nxt = torch.randint(0, 30003, (2, 1), generator=torch.Generator().manual_seed(3))
    step = torch.cat([new_mask[:, :8], torch.ones(2, 1, dtype=torch.long)], 1)
    positions = torch.tensor([[8], [5]])
    got = ours(nxt, attention_mask=step, position_ids=positions, past_key_values=cache).logits[:, 0]
    for row, prefix in ((0, ids[1, 4:]), (1, ids[2, 7:])):
        alone = ours(torch.cat([prefix, nxt[row]])[None]).logits[0, -1]
        assert (got[row] - alone).abs().max().item() <= TOL


@torch.no_grad()
def test_hidden_states_are_forward_without_the_output_layer(pair):
    ours, _ = pair
    ids, mask = _batch()
    h = ours.hidden_states(ids, attention_mask=mask)
    assert h.shape == (3, 17, ours.config.hidden_size)
    assert torch.equal(ours.embed_out(h), ours(ids, attention_mask=mask).logits)


@torch.no_grad()
def test_a_ready_block_mask_packs_two_sequences_in_one_row(pair):
    """A [B, 1, T, S] boolean mask with explicit positions is used as is: two sequences in one row, each seeing
    only itself, give each sequence's own logits (what the log-likelihood scorer relies on)."""
    ours, _ = pair
    ids, _ = _batch(B=1, T=11, pad=(0,))
    first, second = ids[:, :6], ids[:, 6:]
    causal = torch.ones(11, 11, dtype=torch.bool).tril()
    block = torch.zeros(11, 11, dtype=torch.bool)
    block[:6, :6] = block[6:, 6:] = True
    positions = torch.cat([torch.arange(6), torch.arange(5)])[None]
    packed = ours(ids, attention_mask=(causal & block)[None, None], position_ids=positions).logits
    assert (packed[:, :6] - ours(first).logits).abs().max().item() <= TOL
    assert (packed[:, 6:] - ours(second).logits).abs().max().item() <= TOL
    with pytest.raises(ValueError, match="position_ids"):
        ours(ids, attention_mask=(causal & block)[None, None])


def test_loss_is_next_token_cross_entropy():
    model = build_model("tiny", seed=0)
    ids = torch.randint(0, 30003, (2, 9))
    out = model(ids, labels=ids)
    manual = torch.nn.functional.cross_entropy(out.logits[:, :-1].reshape(-1, 30080), ids[:, 1:].reshape(-1))
    assert out.loss.dtype == torch.float32
    assert torch.allclose(out.loss, manual, atol=1e-6)
    out.loss.backward()
    assert model.gpt_neox.layers[0].attention.query_key_value.weight.grad.abs().sum() > 0


def test_num_logits_to_keep():
    model = build_model("tiny", seed=0).eval()
    ids = torch.randint(0, 30003, (2, 7))
    with torch.no_grad():
        full, last = model(ids).logits, model(ids, num_logits_to_keep=1).logits
    assert last.shape == (2, 1, 30080)
    assert torch.allclose(last, full[:, -1:], atol=1e-5)


def test_bfloat16_forward_is_close_to_float32():
    model = build_model("tiny-h128", seed=0).eval()
    ids = torch.randint(0, 30003, (1, 12))
    with torch.no_grad():
        ref = model(ids).logits
        low = model.to(torch.bfloat16)(ids).logits
    assert low.dtype == torch.bfloat16
    assert (low.float() - ref).abs().max().item() < 0.05


@pytest.mark.parametrize(
    "name,expected",
    [
        ("polyglot-ko-1.3b", 1_331_810_304),
        ("polyglot-ko-3.8b", 3_809_974_272),
        ("polyglot-ko-5.8b", 5_885_059_072),
    ],
)
def test_preset_parameter_counts_on_meta_device(name, expected):
    model = build_model(name, device="meta")
    assert model.num_parameters() == expected == CARD_PARAMETERS[name]
    assert model.config.num_parameters() == expected
    assert next(model.parameters()).device.type == "meta"


def test_12_8b_card_discrepancy_is_reported_not_fudged():
    model = build_model("polyglot-ko-12.8b", device="meta")
    assert model.num_parameters() == 12_893_603_840
    assert CARD_PARAMETERS["polyglot-ko-12.8b"] - model.num_parameters() == 5_027_840


def test_state_dict_names_equal_transformers_checkpoint_names(tmp_path):
    """Our names equal what transformers writes to disk (transformers 5 renames embed_out to lm_head in memory
    only; checkpoints keep the GPT-NeoX names, which are the interchange format)."""
    from safetensors import safe_open
    from transformers import GPTNeoXConfig

    ours = build_model("tiny", device="meta")
    hf_config = GPTNeoXConfig(**{k: v for k, v in ours.config.to_hf_dict().items() if k != "architectures"})
    HFGPTNeoX(hf_config).save_pretrained(tmp_path)
    with safe_open(str(tmp_path / "model.safetensors"), "pt") as f:
        on_disk = set(f.keys())
    assert set(ours.state_dict()) == on_disk
