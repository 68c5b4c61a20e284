"""GPT-NeoX as Polyglot-Ko uses it, in plain PyTorch, readable in one sitting.

    x = x + Attn(LN1(x)) + MLP(LN2(x))        (parallel residual: both branches read the same x)

Attention uses a fused `query_key_value` projection whose output is viewed per head as [q | k | v]
(per-head interleaved), rotary embeddings on the first `rotary_ndims` dims of q and k in the half-split
style, and `F.scaled_dot_product_attention`. Module and parameter names equal transformers'
`GPTNeoXForCausalLM`, so a Hugging Face state dict loads with a plain `load_state_dict`.

`forward` is the one forward pass for training, scoring and decoding; `hidden_states` is the same pass
without the output layer (the fused training loss applies that layer chunk by chunk).

Incremental decoding uses `KVCache`: keys and values live in tensors preallocated to a capacity, new
positions are written in place, and capacity grows geometrically, so a decode step never re-allocates
the cache; `KVCache.compose` builds a batch's cache from rows of others (rows leaving, rows joining).
Batched, left-padded inputs pass an `attention_mask` over all positions (cached + new); positions default
to "count of real tokens before this one", as transformers' `generate` does. The log-likelihood scorer
instead passes its own [B, 1, T, S] block mask and positions (several candidates packed after one context).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig, get_config


# --- rotary embeddings ---------------------------------------------------------------------------------
def rotary_cos_sin(position_ids: torch.Tensor, rotary_ndims: int, base: float, dtype: torch.dtype):
    """cos and sin of shape [batch, 1, seq, rotary_ndims] for integer positions [batch, seq], computed in fp32.

    The frequencies are recomputed on every call (a [batch, seq, ndims/2] outer product): cheaper than keeping
    a cache in sync across devices, dtypes and meta-device initialisation.
    """
    inv_freq = 1.0 / (
        base ** (torch.arange(0, rotary_ndims, 2, dtype=torch.int64, device=position_ids.device).float() / rotary_ndims)
    )
    freqs = position_ids.float()[..., None] * inv_freq  # [B, T, ndims/2]
    emb = torch.cat((freqs, freqs), dim=-1)[:, None]  # [B, 1, T, ndims]
    return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate the first `cos.shape[-1]` dims of x [B, H, T, head_size]; the rest pass through."""
    n = cos.shape[-1]
    x_rot, x_pass = x[..., :n], x[..., n:]
    return torch.cat((x_rot * cos + rotate_half(x_rot) * sin, x_pass), dim=-1)


# --- KV cache ------------------------------------------------------------------------------------------
class KVCache:
    """Preallocated keys/values for every layer: [batch, heads, capacity, head_size] each.

    `length` positions are filled. A forward pass with T new tokens writes positions [length, length+T) of
    every layer, and the model advances `length` once at the end of the pass.
    """

    def __init__(
        self, config: ModelConfig, batch_size: int, capacity: int, dtype: torch.dtype, device: torch.device | str
    ):
        shape = (batch_size, config.num_attention_heads, capacity, config.head_size)
        self.k = [torch.empty(shape, dtype=dtype, device=device) for _ in range(config.num_hidden_layers)]
        self.v = [torch.empty(shape, dtype=dtype, device=device) for _ in range(config.num_hidden_layers)]
        self.length = 0

    @property
    def capacity(self) -> int:
        return self.k[0].shape[2]

    @property
    def batch_size(self) -> int:
        return self.k[0].shape[0]

    def reserve(self, needed: int) -> None:
        """Make room for `needed` positions in total, doubling capacity so growth is amortised O(1)."""
        if needed <= self.capacity:
            return
        new_cap = max(needed, 2 * self.capacity)
        for store in (self.k, self.v):
            for i, t in enumerate(store):
                grown = t.new_empty(t.shape[:2] + (new_cap,) + t.shape[3:])
                grown[:, :, : self.length] = t[:, :, : self.length]
                store[i] = grown

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write this pass's k/v [B, H, T, hs] for `layer`; return views of all filled positions."""
        end = self.length + k.shape[2]
        self.k[layer][:, :, self.length : end] = k
        self.v[layer][:, :, self.length : end] = v
        return self.k[layer][:, :, :end], self.v[layer][:, :, :end]

    def select(self, batch_indices: torch.Tensor | list[int]) -> KVCache:
        """A cache holding only the given rows (in that order); repeats allowed (e.g. one prefix, N candidates)."""
        idx = torch.as_tensor(batch_indices, device=self.k[0].device)
        out = KVCache.__new__(KVCache)
        out.k = [t.index_select(0, idx) for t in self.k]
        out.v = [t.index_select(0, idx) for t in self.v]
        out.length = self.length
        return out

    @staticmethod
    def compose(
        pieces: Sequence[tuple[KVCache, torch.Tensor, Sequence[int]]], extra: int
    ) -> tuple[KVCache, torch.Tensor]:
        """One right-aligned cache from rows of several caches, stacked in order, with room for `extra` more positions.

        Each piece is (cache, its padding mask [B, >= cache.length] with 1 = real token, the rows to take). A
        piece's rows keep their filled positions from their earliest real token to `cache.length`, aligned to
        the new cache's `length` (the longest such span); shorter spans get left padding, whose keys and values
        are zeroed (masked scores are -inf, but NaN * 0 would be NaN). Returns the cache and its padding mask
        [sum of rows, length + extra] (0 beyond `length`). This is how a decoding batch drops finished rows and
        takes in newly prefilled ones.
        """
        spans = [(_first_real(mask, cache.length, rows), cache.length) for cache, mask, rows in pieces]
        length = max(end - first for first, end in spans)
        B = sum(len(rows) for _, _, rows in pieces)
        first_cache = pieces[0][0]
        device = first_cache.k[0].device
        new = first_cache._empty_like(B, length + extra)
        new_mask = torch.zeros((B, length + extra), dtype=torch.long, device=device)
        r0 = 0
        for (cache, mask, rows), (first, end) in zip(pieces, spans, strict=True):
            n, span = len(rows), end - first
            idx = torch.as_tensor(rows, device=device)
            for dst, src in zip(new.k + new.v, cache.k + cache.v, strict=True):
                dst[r0 : r0 + n, :, length - span : length] = src[:, :, first:end].index_select(0, idx)
                dst[r0 : r0 + n, :, : length - span] = 0
            new_mask[r0 : r0 + n, length - span : length] = mask[rows, first:end]
            r0 += n
        new.length = length
        return new, new_mask

    def _empty_like(self, batch_size: int, capacity: int) -> KVCache:
        """An empty cache with this one's layers, heads, dtype and device."""
        out = KVCache.__new__(KVCache)
        out.k = [t.new_empty((batch_size, t.shape[1], capacity, t.shape[3])) for t in self.k]
        out.v = [t.new_empty((batch_size, t.shape[1], capacity, t.shape[3])) for t in self.v]
        out.length = 0
        return out


def _first_real(mask: torch.Tensor, length: int, rows: Sequence[int]) -> int:
    """First column < `length` holding a real token in any of `rows` of a padding mask (`length` if none)."""
    sub = mask[rows, :length] != 0
    first = torch.where(sub.any(1), sub.int().argmax(1), torch.full_like(sub[:, 0], length, dtype=torch.long))
    return int(first.min())


@dataclass
class CausalLMOutput:
    logits: torch.Tensor
    """[batch, seq, vocab_size] in the model's dtype (only the last `num_logits_to_keep` positions if set)."""
    past_key_values: KVCache | None = None
    """The cache, advanced past this pass's tokens, when `use_cache` or a cache was given."""
    loss: torch.Tensor | None = None
    """Mean next-token cross entropy in float32, when `labels` were given (-100 = ignore)."""


# --- blocks --------------------------------------------------------------------------------------------
class GPTNeoXAttention(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_size = config.head_size
        self.query_key_value = nn.Linear(config.hidden_size, 3 * config.hidden_size)
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, x, cos, sin, mask, cache: KVCache | None, layer_idx: int):
        B, T, _ = x.shape
        # Per-head interleaved: [B, T, H, 3*hs] -> q, k, v each [B, H, T, hs].
        qkv = self.query_key_value(x).view(B, T, self.num_heads, 3 * self.head_size).transpose(1, 2)
        q, k, v = qkv.split(self.head_size, dim=-1)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if cache is not None:
            k, v = cache.update(layer_idx, k, v)
        if mask is None:
            # No padding: plain causal (flash/efficient kernels), or a single new token that sees everything.
            y = F.scaled_dot_product_attention(q, k, v, is_causal=T > 1)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.dense(y.transpose(1, 2).reshape(B, T, -1))


class GPTNeoXMLP(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.dense_h_to_4h = nn.Linear(config.hidden_size, config.intermediate_size)
        self.dense_4h_to_h = nn.Linear(config.intermediate_size, config.hidden_size)
        self.approximate = "tanh" if config.hidden_act in ("gelu_new", "gelu_fast", "gelu_pytorch_tanh") else "none"
        self.relu = config.hidden_act == "relu"

    def forward(self, x):
        h = self.dense_h_to_4h(x)
        h = F.relu(h) if self.relu else F.gelu(h, approximate=self.approximate)
        return self.dense_4h_to_h(h)


class GPTNeoXLayer(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.use_parallel_residual = config.use_parallel_residual
        self.input_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.post_attention_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.attention = GPTNeoXAttention(config)
        self.mlp = GPTNeoXMLP(config)

    def forward(self, x, cos, sin, mask=None, cache: KVCache | None = None, layer_idx: int = 0):
        attn = self.attention(self.input_layernorm(x), cos, sin, mask, cache, layer_idx)
        if self.use_parallel_residual:
            return x + attn + self.mlp(self.post_attention_layernorm(x))
        x = x + attn
        return x + self.mlp(self.post_attention_layernorm(x))


class GPTNeoXModel(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.embed_in = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(GPTNeoXLayer(config) for _ in range(config.num_hidden_layers))
        self.final_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)


def build_attention_mask(
    attention_mask: torch.Tensor | None, past_len: int, T: int, device: torch.device
) -> torch.Tensor | None:
    """Boolean SDPA mask [B, 1, T, past_len+T] (True = attend), or None when plain causal attention is exact.

    `attention_mask` is a padding mask [B, past_len+T] (1 = real token), or a ready [B, 1, T, past_len+T] boolean
    mask, returned as is. Each query also sees its own key: a left-padding position then attends to itself alone,
    which keeps its (ignored) output finite instead of NaN; real positions are unaffected since their own key is real.
    """
    S = past_len + T
    if attention_mask is None:
        if past_len == 0 or T == 1:
            return None
        q_pos = torch.arange(past_len, S, device=device)[:, None]
        return (torch.arange(S, device=device)[None, :] <= q_pos)[None, None]
    if attention_mask.shape[-1] != S:
        raise ValueError(
            f"attention_mask covers {attention_mask.shape[-1]} positions, expected past {past_len} + new {T}"
        )
    if attention_mask.dim() == 4:
        return attention_mask
    q_pos = torch.arange(past_len, S, device=device)[:, None]
    k_pos = torch.arange(S, device=device)[None, :]
    causal = k_pos <= q_pos  # [T, S]
    mask = causal[None] & attention_mask[:, None, :].bool()  # [B, T, S]
    mask = mask | (k_pos == q_pos)[None]
    return mask[:, None]  # [B, 1, T, S]


class GPTNeoXForCausalLM(nn.Module):
    """The whole model; `gpt_neox.*` and `embed_out.weight` match transformers' state-dict names."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config.validate()
        self.gpt_neox = GPTNeoXModel(config)
        self.embed_out = nn.Linear(config.hidden_size, config.vocab_size, bias=False)

    # --- init ---
    @torch.no_grad()
    def init_weights(self, generator: torch.Generator | None = None) -> None:
        """Normal(0, initializer_range) weights, zero biases, LayerNorm 1/0 (the GPT-NeoX defaults in transformers)."""
        std = self.config.initializer_range
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                module.weight.normal_(0.0, std, generator=generator)
                if getattr(module, "bias", None) is not None:
                    module.bias.zero_()
            elif isinstance(module, nn.LayerNorm):
                module.weight.fill_(1.0)
                module.bias.zero_()

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def allocate_cache(self, batch_size: int, capacity: int) -> KVCache:
        p = self.embed_out.weight
        return KVCache(self.config, batch_size, capacity, dtype=p.dtype, device=p.device)

    def hidden_states(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        cache: KVCache | None = None,
    ) -> torch.Tensor:
        """The blocks and the final LayerNorm, without the output layer: [B, T] ids -> [B, T, hidden_size].

        The fused training loss (`train/loss.py`) applies the output layer itself, chunk by chunk; `forward`
        applies it here. Arguments as in `forward`; a given `cache` is written and advanced past these T tokens.
        """
        B, T = input_ids.shape
        past_len = cache.length if cache is not None else 0
        if cache is not None:
            cache.reserve(past_len + T)
        if position_ids is None:
            if attention_mask is not None and attention_mask.dim() == 4:
                raise ValueError("a [B, 1, T, S] attention_mask needs explicit position_ids")
            if attention_mask is not None:
                position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)[:, past_len:]
            else:
                position_ids = torch.arange(past_len, past_len + T, device=input_ids.device).expand(B, T)
        x = self.gpt_neox.embed_in(input_ids)  # [B, T, d]
        cos, sin = rotary_cos_sin(position_ids, self.config.rotary_ndims, self.config.rotary_emb_base, x.dtype)
        mask = build_attention_mask(attention_mask, past_len, T, input_ids.device)  # None or [B, 1, T, past+T]
        for i, layer in enumerate(self.gpt_neox.layers):
            x = layer(x, cos, sin, mask, cache, i)
        if cache is not None:
            cache.length = past_len + T
        return self.gpt_neox.final_layer_norm(x)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: KVCache | None = None,
        use_cache: bool = False,
        labels: torch.Tensor | None = None,
        num_logits_to_keep: int = 0,
    ) -> CausalLMOutput:
        """The one forward pass of training, scoring and decoding.

        input_ids: [B, T] new tokens. attention_mask: [B, past+T], 1 for real tokens, 0 for (left) padding; or a
        boolean [B, 1, T, past+T] mask used as is (True = attend; e.g. several sequences packed in one row), which
        needs position_ids. position_ids: [B, T]; by default the count of real tokens before each position (so
        left padding does not shift positions), or past+arange(T) without a mask. past_key_values: a `KVCache`
        to read and extend; with `use_cache` and no cache, one is allocated for exactly these T positions.
        labels: [B, T], aligned with input_ids as in transformers (the shift to next-token targets happens here;
        -100 is ignored). num_logits_to_keep: logits for the last N positions only (0 = all), e.g. 1 when decoding.
        """
        cache = past_key_values
        if cache is None and use_cache:
            cache = self.allocate_cache(*input_ids.shape)
        h = self.hidden_states(input_ids, attention_mask, position_ids, cache)  # [B, T, d]
        if num_logits_to_keep:
            h = h[:, -num_logits_to_keep:]
        logits = self.embed_out(h)  # [B, T or num_logits_to_keep, vocab_size]
        loss = None
        if labels is not None:
            loss = F.cross_entropy(
                logits[:, :-1].float().reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100
            )
        return CausalLMOutput(logits=logits, past_key_values=cache, loss=loss)


def build_model(
    preset_or_config: str | ModelConfig = "tiny",
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    seed: int | None = None,
) -> GPTNeoXForCausalLM:
    """A randomly initialised model. `device="meta"` allocates nothing (for counting parameters)."""
    config = get_config(preset_or_config)
    with torch.device(device):
        model = GPTNeoXForCausalLM(config)
    if torch.device(device).type != "meta":
        generator = None
        if seed is not None:
            generator = torch.Generator(device=device).manual_seed(seed)
        model.init_weights(generator)
    return model.to(dtype)
