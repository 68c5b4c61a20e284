"""Greedy agreement of llama.cpp with polyglot-ko on the same model, per GGUF type (export-gguf, then both decode).

    python benchmarks/bench_gguf_agreement.py quickstart-out/model [--types f32 q8_0 q4_0] [--new-tokens 24]

Writes benchmarks/results/gguf_agreement.json and .md: for each type, how many prompts give identical greedy
continuations, and how many tokens agree before the first difference. Needs llama-cpp-python
(scripts/setup-llama.sh).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROMPTS = [
    "오늘 날씨가",
    "이 영화는 정말",
    "서울시는 다음 달부터",
    "고객님, 문의하신",
    "한국어 언어 모델은",
    "연락처는 <|tel|> 입니다. 그리고",
    "대한민국의 수도는",
    "옛날 옛적에 호랑이가",
]


def llama_greedy(llm, ids: list[int], n: int) -> list[int]:
    out: list[int] = []
    for token in llm.generate(ids, temp=0.0, top_k=1, repeat_penalty=1.0, reset=True):
        if token == 2 or len(out) >= n:
            break
        out.append(token)
    return out


def main() -> None:
    import llama_cpp

    from polyglot_ko.export.gguf import export_gguf
    from polyglot_ko.generate import load_generator

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--types", nargs="+", default=["f32", "q8_0", "q4_0"])
    ap.add_argument("--new-tokens", type=int, default=24)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "gguf_agreement"))
    args = ap.parse_args()
    gen = load_generator(args.model)
    ours = [gen.generate(p, max_new_tokens=args.new_tokens) for p in PROMPTS]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.types:
            path = export_gguf(args.model, Path(tmp) / f"m-{kind}.gguf", type=kind, progress=False)
            llm = llama_cpp.Llama(model_path=str(path), n_ctx=512, verbose=False, n_threads=2)
            identical = prefix = ids_equal = 0
            for prompt, res in zip(PROMPTS, ours, strict=True):
                ids = llm.tokenize(prompt.encode(), add_bos=False, special=True)
                ids_equal += ids == res.prompt_token_ids
                theirs = llama_greedy(llm, res.prompt_token_ids, args.new_tokens)
                identical += theirs == res.token_ids
                for a, b in zip(theirs, res.token_ids, strict=False):
                    if a != b:
                        break
                    prefix += 1
            rows.append(
                {
                    "type": kind,
                    "prompts": len(PROMPTS),
                    "prompt_ids_equal": ids_equal,
                    "identical_continuations": identical,
                    "tokens_before_first_difference": prefix,
                    "tokens": sum(len(r.token_ids) for r in ours),
                    "file_mib": path.stat().st_size / 2**20,
                }
            )
    result = {
        "model": args.model,
        "parameters": gen.model.num_parameters(),
        "new_tokens": args.new_tokens,
        "rows": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"# llama.cpp vs polyglot-ko greedy agreement: {args.model} ({result['parameters']:,} parameters)",
        "",
        "| GGUF type | prompt ids equal | identical continuations | tokens equal before first difference | file MiB |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['type']} | {r['prompt_ids_equal']}/{r['prompts']} | {r['identical_continuations']}/"
            f"{r['prompts']} | {r['tokens_before_first_difference']}/{r['tokens']} | {r['file_mib']:.1f} |"
        )
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
