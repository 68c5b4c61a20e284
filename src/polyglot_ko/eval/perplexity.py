"""Perplexity with a sliding window, per token and per character, on texts, text files or indexed datasets.

Each document is scored on its own, preceded by `<|endoftext|>` (what precedes every document in training),
so its first token is predicted too; the end-of-document token itself is not scored, so the per-character
numbers measure the text alone and compare across tokenizers (bits per character do not depend on how a
tokenizer cuts the text; perplexity per token does).

Long documents use a sliding window (as in the transformers perplexity guide): windows of `context` tokens
start every `stride` tokens and each scores only tokens no earlier window scored, so every token after the
first window is predicted from at least `context - stride` tokens of history. `stride == context` is disjoint
windows (fastest, least context); the default is half the window.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..constants import ENDOFTEXT_ID, PAD_ID
from ..errors import UserError


@dataclass
class _Doc:
    tokens: list[int]
    characters: int
    nbytes: int


@dataclass
class _Window:
    doc: int
    inputs: list[int]
    targets: list[int]
    first: int  # position in `inputs` of the first scored prediction


def windows(n_tokens: int, context: int, stride: int) -> Iterator[tuple[int, int, int]]:
    """(begin, end, first_target) over x = [eot] + tokens: input x[begin:end], targets x[first_target:end+1].

    Together the windows score every target index 1..n_tokens exactly once.
    """
    if context < 1 or not 1 <= stride <= context:
        raise UserError(f"--stride {stride}: must be between 1 and the window size {context}")
    last = n_tokens  # index of the last target in x
    scored = 1
    begin = 0
    while scored <= last:
        end = min(begin + context, last)
        yield begin, end, scored
        scored = end + 1
        begin += stride


def _is_indexed(path: Path) -> bool:
    s = os.fspath(path)
    prefix = s.removesuffix(".idx").removesuffix(".bin")
    return Path(prefix + ".idx").is_file() and Path(prefix + ".bin").is_file()


def _indexed_docs(path: Path, tokenizer: Any, split: str) -> tuple[list[_Doc], str]:
    from ..data.indexed import IndexedDataset, read_manifest, shard_prefixes
    from ._common import endoftext_id

    eot = endoftext_id(tokenizer)
    if path.is_dir() or path.name == "manifest.json":
        manifest = read_manifest(path)
        want = split
        if split == "auto":
            want = "valid" if manifest.get("valid_shards") else "train"
        prefixes = shard_prefixes(manifest, want)
        if not prefixes:
            raise UserError(f"{path}: the manifest lists no {want} shards; pass --split train or another folder")
        fp = manifest.get("tokenizer", {}).get("fingerprint")
        ours = getattr(tokenizer, "fingerprint", None)
        if fp and ours and fp != ours:
            raise UserError(
                f"{path} was tokenized with another tokenizer (fingerprint {fp[:12]}, the model's is "
                f"{ours[:12]}); evaluate text files instead, or pass the matching --tokenizer"
            )
        source = f"{path} ({want} shards)"
    else:
        prefixes = [Path(os.fspath(path).removesuffix(".idx").removesuffix(".bin"))]
        source = str(prefixes[0])
    docs = []
    for prefix in prefixes:
        for arr in IndexedDataset(prefix):
            toks = [int(t) for t in arr]
            if toks and toks[-1] == eot:
                toks = toks[:-1]
            text = tokenizer.decode(toks)
            docs.append(_Doc(toks, len(text), len(text.encode("utf-8"))))
    return docs, source


def _names_a_path(item: str, p: Path) -> bool:
    """Whether a string names an existing file/folder/indexed prefix or a matching glob (a text never does)."""
    import glob as _glob

    if "\n" in item or len(item) > 4096:
        return False
    try:
        return p.exists() or _is_indexed(p) or (_glob.has_magic(item) and bool(_glob.glob(item)))
    except (OSError, ValueError):  # too long for a file name, or a NUL character: a text
        return False


def _text_docs(texts: Iterable[str], tokenizer: Any) -> list[_Doc]:
    texts = list(texts)
    encode_batch = getattr(tokenizer, "encode_batch", None)
    ids = encode_batch(texts) if encode_batch else [tokenizer.encode(t) for t in texts]
    return [_Doc(list(i), len(t), len(t.encode("utf-8"))) for t, i in zip(texts, ids, strict=True)]


def load_documents(
    texts_or_paths: Any,
    tokenizer: Any,
    *,
    text_field: str = "text",
    txt_mode: str = "line",
    split: str = "auto",
    max_documents: int | None = None,
) -> tuple[list[_Doc], str]:
    """Tokenized documents and a description of their source.

    `texts_or_paths`: a `Path`, or a list of `Path`s / strings. A string that names an existing file, folder or
    indexed-dataset prefix (or a glob) is read as a path; any other string is a document's text.
    Indexed datasets: a `.bin/.idx` prefix or a prepared folder with manifest.json (its validation shards when
    it has them, with split="auto").
    """
    items = [texts_or_paths] if isinstance(texts_or_paths, (str, os.PathLike)) else list(texts_or_paths)
    docs: list[_Doc] = []
    sources = []
    raw_texts: list[str] = []
    text_paths: list[Path] = []
    for item in items:
        p = Path(os.fspath(item)).expanduser() if isinstance(item, (str, os.PathLike)) else None
        as_path = isinstance(item, os.PathLike) or (p is not None and _names_a_path(str(item), p))
        if not as_path:
            if not isinstance(item, str):
                raise UserError(f"perplexity input {item!r} is neither a text nor a path")
            raw_texts.append(item)
            continue
        if _is_indexed(p) or (p.is_dir() and (p / "manifest.json").is_file()) or p.name == "manifest.json":
            d, src = _indexed_docs(p, tokenizer, split)
            docs += d
            sources.append(src)
        else:
            text_paths.append(p)
    if text_paths:
        from ..data.readers import read_texts

        texts = []
        for t in read_texts(text_paths, text_field=text_field, txt_mode=txt_mode):
            texts.append(t)
            if max_documents and len(texts) + len(docs) >= max_documents:
                break
        docs += _text_docs(texts, tokenizer)
        sources.append(", ".join(str(p) for p in text_paths))
    if raw_texts:
        docs += _text_docs(raw_texts, tokenizer)
        sources.append(f"{len(raw_texts)} text(s)")
    if max_documents:
        docs = docs[:max_documents]
    if not docs:
        raise UserError("perplexity: no documents to score; pass text files, an indexed dataset or texts")
    return docs, "; ".join(sources)


@torch.inference_mode()
def _score_windows(model, batch: list[_Window], pad_id: int) -> list[float]:
    from .loglikelihood import _gather_logprobs

    device = model.embed_out.weight.device
    T = max(len(w.inputs) for w in batch)
    # Only the scored tail of each window needs logits (the output projection over 30080 rows dominates small
    # models), so windows are left-padded and the model keeps the last K positions.
    K = max(len(w.inputs) - w.first for w in batch)
    ids = torch.full((len(batch), T), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), T), dtype=torch.long)
    tgt = torch.zeros((len(batch), K), dtype=torch.long)
    keep = torch.zeros((len(batch), K), dtype=torch.bool)
    for r, w in enumerate(batch):
        n = len(w.inputs)
        ids[r, T - n :] = torch.tensor(w.inputs)
        mask[r, T - n :] = 1
        scored = n - w.first
        tgt[r, K - scored :] = torch.tensor(w.targets[w.first :])
        keep[r, K - scored :] = True
    padded = bool((mask == 0).any())
    logits = model(ids.to(device), attention_mask=mask.to(device) if padded else None, num_logits_to_keep=K).logits
    lp, _ = _gather_logprobs(logits, tgt.to(device))
    return (lp.double() * keep.to(device)).sum(-1).tolist()


def _make_windows(docs, eot: int, L: int, S: int) -> list[_Window]:
    """Every document's sliding windows (the document starts after an <|endoftext|>, as in pretraining)."""
    wins: list[_Window] = []
    for di, d in enumerate(docs):
        x = [eot] + d.tokens
        for begin, end, first_target in windows(len(d.tokens), L, S):
            wins.append(_Window(di, x[begin:end], x[begin + 1 : end + 1], first_target - 1 - begin))
    return wins


def _score_all(model, wins: list[_Window], n_docs: int, max_batch_tokens: int, pad: int, progress: bool) -> list:
    """Negative log-likelihood per document: windows scored longest first, batched up to max_batch_tokens."""
    from tqdm.auto import tqdm

    order = sorted(range(len(wins)), key=lambda i: -len(wins[i].inputs))
    nll = [0.0] * n_docs
    bar = tqdm(
        total=sum(len(w.inputs) - w.first for w in wins),
        desc="perplexity",
        unit="tok",
        disable=not progress,
        leave=False,
    )
    i = 0
    while i < len(order):
        n = max(1, max_batch_tokens // len(wins[order[i]].inputs))
        batch = [wins[j] for j in order[i : i + n]]
        for w, lp in zip(batch, _score_windows(model, batch, pad), strict=True):
            nll[w.doc] -= lp
        bar.update(sum(len(w.inputs) - w.first for w in batch))
        i += n
    bar.close()
    return nll


def perplexity(
    model,
    tokenizer,
    texts_or_paths: Any,
    *,
    context: int | None = None,
    stride: int | None = None,
    max_batch_tokens: int = 4096,
    text_field: str = "text",
    txt_mode: str = "line",
    split: str = "auto",
    max_documents: int | None = None,
    progress: bool = True,
    dtype: str = "float32",
    device: str = "cpu",
) -> dict:
    """Sliding-window perplexity of `model` on documents; returns tokens, bits per character, perplexities.

    context: window in tokens (default: the model's max_position_embeddings); stride: tokens between window
    starts (default: context // 2). max_batch_tokens: windows are batched up to this many padded tokens.
    """
    from ._common import endoftext_id, load_model_any, load_tokenizer_any, pad_id

    if tokenizer is None:
        if not isinstance(model, (str, Path)):
            raise UserError("perplexity: pass a tokenizer with a model object (or pass the model folder)")
        tokenizer = model
    tokenizer = load_tokenizer_any(tokenizer)
    model = load_model_any(model, dtype=dtype, device=device)
    L = int(context or model.config.max_position_embeddings)
    if L > model.config.max_position_embeddings:
        raise UserError(f"--context {L} exceeds the model's {model.config.max_position_embeddings} positions")
    S = int(stride or max(1, L // 2))
    t0 = time.perf_counter()
    docs, source = load_documents(
        texts_or_paths, tokenizer, text_field=text_field, txt_mode=txt_mode, split=split, max_documents=max_documents
    )
    wins = _make_windows(docs, endoftext_id(tokenizer), L, S)
    nll = _score_all(model, wins, len(docs), max_batch_tokens, pad_id(tokenizer), progress)
    tokens = sum(len(d.tokens) for d in docs)
    chars = sum(d.characters for d in docs)
    nbytes = sum(d.nbytes for d in docs)
    total = sum(nll)
    ln2 = math.log(2)
    out = {
        "source": source,
        "documents": len(docs),
        "tokens": tokens,
        "characters": chars,
        "bytes": nbytes,
        "nll": total,
        "nll_per_token": total / tokens if tokens else float("nan"),
        "perplexity": math.exp(total / tokens) if tokens else float("nan"),
        "bits_per_token": total / tokens / ln2 if tokens else float("nan"),
        "bits_per_character": total / chars / ln2 if chars else float("nan"),
        "perplexity_per_character": math.exp(total / chars) if chars else float("nan"),
        "bits_per_byte": total / nbytes / ln2 if nbytes else float("nan"),
        "tokens_per_character": tokens / chars if chars else float("nan"),
        "context": L,
        "stride": S,
        "windows": len(wins),
        "seconds": time.perf_counter() - t0,
    }
    if progress:
        print(
            f"perplexity: {out['documents']} documents, {tokens} tokens, {chars} characters: "
            f"ppl/token {out['perplexity']:.3f}, bits/char {out['bits_per_character']:.4f}, "
            f"ppl/char {out['perplexity_per_character']:.4f} ({out['seconds']:.1f} s)",
            flush=True,
        )
    return out


def per_document_nll(
    model,
    token_docs: Sequence[Sequence[int]],
    *,
    context: int,
    stride: int,
    eot: int = ENDOFTEXT_ID,
    pad_id: int = PAD_ID,
) -> list[float]:
    """Summed negative log-likelihood of each token list (after an <|endoftext|>), sliding-window, unbatched.

    A small helper for tests and notebooks: the same windows as `perplexity`, one forward pass per window.
    """
    out = []
    for toks in token_docs:
        x = [eot] + list(toks)
        total = 0.0
        for begin, end, first_target in windows(len(toks), context, stride):
            w = _Window(0, x[begin:end], x[begin + 1 : end + 1], first_target - 1 - begin)
            total -= _score_windows(model, [w], pad_id)[0]
        out.append(total)
    return out
