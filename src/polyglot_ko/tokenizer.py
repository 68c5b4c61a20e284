"""The Polyglot-Ko tokenizer: load the released byte-level BPE (or one we trained) exactly, and decode streams.

`load_tokenizer(path_or_hub_id)` reads a Hugging Face tokenizer folder (`tokenizer.json`, plus
`tokenizer_config.json` and `special_tokens_map.json` when present) through the Rust `tokenizers` library and
checks that its special tokens sit where Polyglot-Ko's models expect them:

    <pad> 0, <eos> 1, <|endoftext|> 2, <|sep|> 3, BPE vocabulary, then <|acc|> N, <|tel|> N+1, <|rrn|> N+2

(released file: N = 30000, so 30003 ids; further added tokens after the PII ones are allowed and counted in
`vocab_size`). The model has more embedding rows than the tokenizer has ids (30080,
padded to a multiple of 128); `vocab_size` and `padded_vocab_size` are two separate attributes, and
`mask_invalid_logits` is what samplers call so that an id >= `vocab_size` can never be produced.

Choice for `save()`'s `tokenizer_config.json`: the released config names `<eos>` (id 1) as the eos token, but the
models end every training document with `<|endoftext|>` (id 2) and never saw `<eos>`; generation must stop on 2.
We therefore write `eos_token = "<|endoftext|>"` and keep `pad_token = "<pad>"` (id 0), `<eos>` stays an
additional special token so its id is unchanged. The ids of every token are identical to the released file's.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from functools import cached_property
from pathlib import Path

from .chat_template import CHAT_TEMPLATE
from .constants import (
    FIXED_SPECIAL_TOKENS,
    MODEL_MAX_LENGTH,
    PAD_MULTIPLE,
    PII_TOKENS,
    TOKENIZER_FILES,
)
from .errors import UserError
from .io_utils import read_json

# What GPT-NeoX's forward takes from a tokenizer's output (written to tokenizer_config.json).
MODEL_INPUT_NAMES = ("input_ids", "attention_mask")

# Marks morpheme boundaries in tokenizer training text; the pre-tokenizer splits on it and drops it.
MORPHEME_BOUNDARY = "\u0cf1"

_LAYOUT = (
    "Polyglot-Ko's layout is <pad> 0, <eos> 1, <|endoftext|> 2, <|sep|> 3, the BPE vocabulary of N entries, "
    "then <|acc|> N, <|tel|> N+1, <|rrn|> N+2"
)


class InvalidTextError(UserError, ValueError):
    """Text that is not valid Unicode (a lone UTF-16 surrogate) was given to encode."""


class InvalidTokenIdError(UserError, ValueError):
    """An id outside the tokenizer's vocabulary (e.g. a padded embedding row) was given to decode."""


def padded_size(vocab_size: int, multiple: int = PAD_MULTIPLE) -> int:
    """Embedding rows GPT-NeoX allocates for `vocab_size` ids: the next multiple of `multiple` (30003 -> 30080)."""
    return -(-vocab_size // multiple) * multiple


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table, the alphabet of every byte-level BPE."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs), strict=False))


_CHAR_TO_BYTE = {c: b for b, c in _bytes_to_unicode().items()}


def _token_bytes(token: str) -> bytes:
    # Same rule as the Rust ByteLevel decoder: a token made only of alphabet characters maps to those bytes,
    # anything else (an added token with other characters) is taken as its UTF-8 text.
    try:
        return bytes(_CHAR_TO_BYTE[c] for c in token)
    except KeyError:
        return token.encode("utf-8")


_SURROGATE = re.compile("[\ud800-\udfff]")


def _raise_if_surrogates(texts: Sequence[str]) -> None:
    for i, t in enumerate(texts):
        m = _SURROGATE.search(t)
        if m:
            raise InvalidTextError(
                f"text {i} contains a lone surrogate U+{ord(m.group()):04X} at character {m.start()}, "
                f"which is not valid Unicode; clean it first, e.g. "
                f"text.encode('utf-8', 'replace').decode('utf-8')"
            )


class IncrementalDecoder:
    """Turns a stream of token ids into text chunks that are always safe to show.

    A Hangul syllable is 3 UTF-8 bytes and byte-level BPE may split it across tokens; `add` holds back an
    incomplete UTF-8 sequence (at most 3 bytes) until the token that completes it arrives, so no chunk ever ends
    in half a character or U+FFFD. Work per call is proportional to the ids added, not to the text so far.
    The concatenation of every `add(...)` and the final `flush()` equals `tokenizer.decode(all_ids)`.
    """

    def __init__(self, tokenizer: PolyglotTokenizer, skip_special_tokens: bool = False):
        self._tok = tokenizer
        self._skip = tokenizer._special_id_set if skip_special_tokens else frozenset()
        self._table = tokenizer._byte_table  # None when the decoder is not plain ByteLevel
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending: list[int] = []  # fallback path only
        self._skip_special_tokens = skip_special_tokens

    def add(self, ids: int | Iterable[int]) -> str:
        """Feed new ids (one or many); return the text that is now complete (may be "")."""
        if isinstance(ids, int):
            ids = [ids]
        elif hasattr(ids, "tolist"):
            ids = ids.tolist()
            ids = [ids] if isinstance(ids, int) else ids
        ids = self._tok._check_ids(ids)
        if self._table is not None:
            table, skip = self._table, self._skip
            return self._utf8.decode(b"".join(table[i] for i in ids if i not in skip))
        # Generic decoders: re-decode only the not-yet-emitted tail, emit once it ends in a whole character.
        self._pending.extend(ids)
        text = self._tok._backend.decode(self._pending, skip_special_tokens=self._skip_special_tokens)
        if text.endswith("\ufffd") and len(self._pending) < 8:
            return ""
        self._pending.clear()
        return text

    def flush(self) -> str:
        """End of stream: return whatever is held back (an unfinished sequence becomes U+FFFD, as decode does)."""
        if self._table is not None:
            return self._utf8.decode(b"", final=True)
        text = self._tok._backend.decode(self._pending, skip_special_tokens=self._skip_special_tokens)
        self._pending.clear()
        return text


class PolyglotTokenizer:
    """A byte-level BPE tokenizer with Polyglot-Ko's special tokens, backed by `tokenizers.Tokenizer`.

    `encode` adds no special tokens (the released tokenizer adds no BOS/EOS); special-token strings in the text
    (`<|tel|>`, `<|endoftext|>`, ...) always become their single id.
    """

    def __init__(self, backend, source: str = "<in-memory tokenizer>"):
        self._backend = backend
        self.source = source
        # Special tokens written in the text must always be matched (PII masks stay atomic).
        backend.encode_special_tokens = False
        self._validate()

    # --- validation -------------------------------------------------------------------------------------
    def _validate(self) -> None:
        b = self._backend
        vocab = b.get_vocab(with_added_tokens=True)
        n = len(vocab)
        if n == 0 or max(vocab.values()) != n - 1:
            raise UserError(
                f"{self.source}: token ids are not contiguous 0..{n - 1} ({n} tokens, largest id "
                f"{max(vocab.values(), default=-1)}); the file is damaged, re-save or retrain it"
            )
        added = b.get_added_tokens_decoder()
        expected = {tok: i for i, tok in enumerate(FIXED_SPECIAL_TOKENS.values())}
        bpe = b.get_vocab_size(with_added_tokens=False)  # PII tokens follow the BPE vocabulary (30000 released)
        expected.update({tok: bpe + i for i, tok in enumerate(PII_TOKENS.values())})
        for tok, want in expected.items():
            got = vocab.get(tok)
            if got != want:
                have = "is missing" if got is None else f"has id {got}"
                raise UserError(
                    f"{self.source}: special token {tok} {have}, expected id {want}; {_LAYOUT} "
                    f"(train a compatible one with `polyglot-ko train-tokenizer`)"
                )
            if got not in added or not added[got].special:
                raise UserError(
                    f"{self.source}: {tok} (id {got}) is not registered as a special added token, so "
                    f"text containing it would be split; list it in tokenizer.json's added_tokens "
                    f'with "special": true'
                )
        self.vocab_size = n
        self.padded_vocab_size = padded_size(n)
        self.special_ids = {name: vocab[tok] for name, tok in {**FIXED_SPECIAL_TOKENS, **PII_TOKENS}.items()}
        self.special_tokens = {**FIXED_SPECIAL_TOKENS, **PII_TOKENS}
        self._special_id_set = frozenset(i for i, t in added.items() if t.special)
        for name, i in self.special_ids.items():
            setattr(self, f"{name}_id", i)

    # Attributes set by _validate, declared for readers and type checkers.
    vocab_size: int  # ids the tokenizer can produce (30003); logits at ids >= vocab_size must be masked
    padded_vocab_size: int  # embedding rows of the model (30080), a multiple of 128
    pad_id: int
    eos_id: int
    endoftext_id: int  # the document separator: generation stops here
    sep_id: int
    acc_id: int
    tel_id: int
    rrn_id: int

    # --- encoding ---------------------------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        """Token ids of `text`, no special tokens added."""
        if not isinstance(text, str):
            raise TypeError(f"encode expects a str, got {type(text).__name__}")
        try:
            return self._backend.encode(text, add_special_tokens=False).ids
        except TypeError:
            _raise_if_surrogates([text])
            raise

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """`encode` for many texts at once, in parallel on all cores (Rust threads)."""
        texts = list(texts)
        for t in texts:
            if not isinstance(t, str):
                raise TypeError(f"encode_batch expects str items, got {type(t).__name__}")
        try:
            return [e.ids for e in self._backend.encode_batch_fast(texts, add_special_tokens=False)]
        except TypeError:
            _raise_if_surrogates(texts)
            raise

    def tokenize(self, text: str) -> list[str]:
        """The byte-level token strings of `text` (for inspection)."""
        return self._backend.encode(text, add_special_tokens=False).tokens

    # --- decoding ---------------------------------------------------------------------------------------
    def _check_ids(self, ids) -> list[int]:
        if hasattr(ids, "tolist"):
            ids = ids.tolist()
        ids = list(ids)
        if ids:
            lo, hi = min(ids), max(ids)
            if lo < 0 or hi >= self.vocab_size:
                bad = lo if lo < 0 else hi
                raise InvalidTokenIdError(
                    f"token id {bad} is outside the tokenizer's vocabulary 0..{self.vocab_size - 1}; ids "
                    f"{self.vocab_size}..{self.padded_vocab_size - 1} are padding rows of the model's embedding: "
                    f"mask them before sampling (tokenizer.mask_invalid_logits(logits))"
                )
        return ids

    def decode(self, ids: Iterable[int], skip_special_tokens: bool = False) -> str:
        """Text of `ids`. An id outside 0..vocab_size-1 raises `InvalidTokenIdError`."""
        return self._backend.decode(self._check_ids(ids), skip_special_tokens=skip_special_tokens)

    def decode_batch(self, batch: Iterable[Iterable[int]], skip_special_tokens: bool = False) -> list[str]:
        return self._backend.decode_batch(
            [self._check_ids(ids) for ids in batch], skip_special_tokens=skip_special_tokens
        )

    def incremental_decoder(self, skip_special_tokens: bool = False) -> IncrementalDecoder:
        """A decoder for streamed generation: `add(ids) -> str` and `flush() -> str` (see `IncrementalDecoder`)."""
        return IncrementalDecoder(self, skip_special_tokens=skip_special_tokens)

    @cached_property
    def _byte_table(self) -> list[bytes] | None:
        # The per-id bytes let the stream decoder work in O(new ids); only valid for a plain ByteLevel decoder.
        decoder = json.loads(self._backend.to_str()).get("decoder") or {}
        if decoder.get("type") != "ByteLevel":
            return None
        table = [b""] * self.vocab_size
        for token, i in self._backend.get_vocab(with_added_tokens=True).items():
            table[i] = _token_bytes(token)
        return table

    def token_bytes(self, token_id: int) -> bytes:
        """The raw bytes one id stands for (byte-level BPE tokens are byte strings, not always valid UTF-8)."""
        (i,) = self._check_ids([token_id])
        table = self._byte_table
        return table[i] if table is not None else self._backend.decode([i]).encode("utf-8")

    def mask_invalid_logits(self, logits):
        """Set logits of ids >= `vocab_size` (the model's padding rows) to -inf, in place; returns `logits`.

        Works on a torch tensor or numpy array whose last dimension is the model's embedding rows (30080).
        Every sampler calls this (or slices `logits[..., :tokenizer.vocab_size]`) so that no padding id is ever
        produced.
        """
        if logits.shape[-1] > self.vocab_size:
            logits[..., self.vocab_size :] = float("-inf")
        return logits

    # --- identity and persistence -----------------------------------------------------------------------
    @cached_property
    def fingerprint(self) -> str:
        """sha256 (hex) of what decides the ids: vocabulary, merges, added tokens, normalizer, pre-tokenizer.

        Computed from a canonical form (sorted keys; merges as pairs whatever the file's format), so a
        tokenizer saved and loaded again, by us or by transformers, keeps its fingerprint.
        """
        d = json.loads(self._backend.to_str())
        model = d.get("model") or {}
        vocab = model.get("vocab") or {}
        merges = [m.split(" ", 1) if isinstance(m, str) else list(m) for m in model.get("merges") or []]
        canonical = {
            "model": model.get("type"),
            "vocab": sorted(([i, t] for t, i in vocab.items()) if isinstance(vocab, dict) else vocab),
            "merges": merges,
            "added_tokens": sorted(
                [t["id"], t["content"], bool(t.get("special"))] for t in d.get("added_tokens") or []
            ),
            "normalizer": d.get("normalizer"),
            "pre_tokenizer": d.get("pre_tokenizer"),
        }
        blob = json.dumps(canonical, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    @property
    def backend(self):
        """The underlying `tokenizers.Tokenizer`."""
        return self._backend

    def hf_config(self) -> tuple[dict, dict]:
        """(tokenizer_config.json, special_tokens_map.json) contents written by `save`."""
        additional = [FIXED_SPECIAL_TOKENS["eos"], FIXED_SPECIAL_TOKENS["endoftext"], *PII_TOKENS.values()]
        # special_tokens_map is kept minimal and consistent with tokenizer_config.
        special_map = {
            "eos_token": FIXED_SPECIAL_TOKENS["endoftext"],
            "pad_token": FIXED_SPECIAL_TOKENS["pad"],
            "sep_token": FIXED_SPECIAL_TOKENS["sep"],
            "additional_special_tokens": [t for t in additional if t != FIXED_SPECIAL_TOKENS["endoftext"]],
        }
        config = {
            "tokenizer_class": "PreTrainedTokenizerFast",
            **special_map,
            "model_max_length": MODEL_MAX_LENGTH,
            # transformers' clean-up rewrites " ." into "." and would break decode(encode(x)) == x.
            "clean_up_tokenization_spaces": False,
            "add_bos_token": False,
            "add_eos_token": False,
            "padding_side": "left",
            # GPT-NeoX takes no token_type_ids; transformers 4.x's PreTrainedTokenizerFast returns them by default,
            # and `model.generate(**tokenizer(text, return_tensors="pt"))` then fails on the unexpected input.
            "model_input_names": list(MODEL_INPUT_NAMES),
            # One chat format for serving, fine-tuning, apply_chat_template, vLLM/TGI and GGUF (chat_template.py).
            "chat_template": CHAT_TEMPLATE,
        }
        return config, special_map

    def save(self, folder: str | os.PathLike) -> Path:
        """Write tokenizer.json, tokenizer_config.json and special_tokens_map.json into `folder` (each atomically).

        `transformers.AutoTokenizer.from_pretrained(folder)` gives the same ids as this tokenizer.
        """
        from .io_utils import atomic_write_json, atomic_write_text

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        config, special_map = self.hf_config()
        atomic_write_text(folder / "tokenizer.json", self._backend.to_str(pretty=True))
        atomic_write_json(folder / "tokenizer_config.json", config)
        atomic_write_json(folder / "special_tokens_map.json", special_map)
        return folder

    def __len__(self) -> int:
        return self.vocab_size

    def __repr__(self) -> str:
        return (
            f"PolyglotTokenizer(source={self.source!r}, vocab_size={self.vocab_size}, "
            f"padded_vocab_size={self.padded_vocab_size}, fingerprint={self.fingerprint[:12]})"
        )


def from_tokenizer_json(text: str, source: str = "<in-memory tokenizer>") -> PolyglotTokenizer:
    """A `PolyglotTokenizer` from the text of a tokenizer.json."""
    from tokenizers import Tokenizer

    try:
        backend = Tokenizer.from_str(text)
    except Exception as e:  # the Rust parser raises plain Exception subclasses with serde messages
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise UserError(
            f"{source}: not a tokenizer the `tokenizers` library can read ({first}); restore the "
            f"file, or train one with `polyglot-ko train-tokenizer`"
        ) from None
    return PolyglotTokenizer(backend, source=source)


def load_tokenizer(path_or_hub_id: str | os.PathLike | PolyglotTokenizer) -> PolyglotTokenizer:
    """Load a tokenizer folder (or a hub id such as `EleutherAI/polyglot-ko-1.3b`) and check its special tokens.

    Also accepts a tokenizer.json path, or a `PolyglotTokenizer` (returned as is, so callers can take either).

    Bad input (no folder, no or corrupt tokenizer.json, special tokens at other ids, a special_tokens_map naming
    tokens the vocabulary lacks) raises `UserError` with one line saying what to fix.
    """
    from .hub import resolve_folder

    if isinstance(path_or_hub_id, PolyglotTokenizer):
        return path_or_hub_id
    path = Path(os.path.expanduser(str(path_or_hub_id)))
    if path.is_file() and path.suffix == ".json":
        folder, tok_file = path.parent, path
    else:
        folder = resolve_folder(path_or_hub_id, allow_patterns=list(TOKENIZER_FILES), what="tokenizer")
        tok_file = folder / "tokenizer.json"
    if not tok_file.is_file():
        raise UserError(
            f"{folder}: no tokenizer.json in this folder; pass a folder holding a Hugging Face "
            f"tokenizer.json, or train one with `polyglot-ko train-tokenizer`"
        )
    try:
        text = tok_file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(
            f"{tok_file}: not UTF-8 text (corrupt?); restore the file from the tokenizer's source"
        ) from None
    if not text.strip():
        raise UserError(f"{tok_file}: the file is empty; restore it from the tokenizer's source")
    tok = from_tokenizer_json(text, source=str(tok_file))
    vocab = tok.backend.get_vocab(with_added_tokens=True)
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        p = folder / name
        if not p.is_file():
            continue
        d = read_json(p, "restore the file from the tokenizer's source, or re-save the tokenizer")
        if not isinstance(d, dict):
            raise UserError(f"{p}: expected a JSON object; restore the file or delete it")
        named = [v for k, v in d.items() if k.endswith("_token")]
        for key in ("additional_special_tokens", "extra_special_tokens"):  # transformers 4.x / 5.x spelling
            extra = d.get(key) or []
            named += list(extra.values()) if isinstance(extra, dict) else list(extra)
        for v in named:
            content = v.get("content") if isinstance(v, dict) else v
            if isinstance(content, str) and content not in vocab:
                raise UserError(
                    f"{p}: names special token {content!r}, which tokenizer.json does not have (files "
                    f"from different tokenizer versions?); use the three files of one release, or "
                    f"re-save with PolyglotTokenizer.save"
                )
    return tok
