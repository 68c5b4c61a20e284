"""lm-eval agreement: lm-eval 0.4's own kobest tasks (run offline on the local data) with its `hf` model and with
our registered `polyglot-ko` model give the same contexts, log-likelihoods and metrics as our
`--protocol lm-eval-0.4`; and `python -m polyglot_ko.eval.lm_eval_adapter` runs lm-eval's CLI with our model."""

from __future__ import annotations

import json

import pytest

from polyglot_ko.eval.kobest import TASKS, evaluate_kobest

pytestmark = pytest.mark.slow
SHOTS, LIMIT, TOL = 2, 6, 1e-4


@pytest.fixture(scope="module")
def lm_eval_runs(sharp_model_dir, kobest_dir, tmp_path_factory):
    # lm-eval's kobest f1 metric asks `evaluate` for a hub script; offline that retries for ~8 s per run.
    import evaluate.config
    import lm_eval
    from lm_eval.tasks import TaskManager

    from polyglot_ko.eval.lm_eval_adapter import offline_kobest_tasks

    mp = pytest.MonkeyPatch()
    mp.setattr(evaluate.config, "HF_EVALUATE_OFFLINE", True)
    include = offline_kobest_tasks(kobest_dir, tmp_path_factory.mktemp("lm-eval-tasks"))
    # Only our folder is indexed (indexing lm-eval's ~10k built-in task files takes 10-20 s); the task files in it
    # are lm-eval's own kobest ones.
    tm = TaskManager(include_path=str(include), include_defaults=False)
    runs = {}
    for model_type, args in (
        ("hf", f"pretrained={sharp_model_dir},dtype=float32"),
        ("polyglot-ko", f"pretrained={sharp_model_dir}"),
    ):
        runs[model_type] = lm_eval.simple_evaluate(
            model=model_type,
            model_args=args,
            tasks=list(TASKS),
            num_fewshot=SHOTS,
            limit=LIMIT,
            task_manager=tm,
            log_samples=True,
            batch_size=8,
            device="cpu",
        )
    yield runs, include
    mp.undo()


@pytest.mark.parametrize("model_type", ["hf", "polyglot-ko"])
def test_lm_eval_agrees_with_our_lm_eval_protocol(lm_eval_runs, model_type, sharp_model_dir, kobest_dir):
    runs, _ = lm_eval_runs
    run = runs[model_type]
    ours = evaluate_kobest(
        sharp_model_dir,
        None,
        TASKS,
        [SHOTS],
        kobest_dir,
        LIMIT,
        protocol="lm-eval-0.4",
        return_samples=True,
        progress=False,
    )
    varied = 0
    for task in TASKS:
        theirs = run["samples"][task]
        mine = ours["samples"][task][str(SHOTS)]
        assert len(theirs) == len(mine) == LIMIT
        for t, m in zip(sorted(theirs, key=lambda s: s["doc_id"]), mine, strict=True):
            contexts = {a[0] for a in t["arguments"]}
            assert len(contexts) == 1 and contexts.pop() == m["context"]
            assert [a[1] for a in t["arguments"]] == m["candidates"]
            assert [r[0][0] for r in t["resps"]] == pytest.approx(m["loglikelihoods"], abs=TOL)
        res, mres = run["results"][task], ours["results"][task][str(SHOTS)]
        assert res["acc,none"] == pytest.approx(mres["acc"]) and res["f1,none"] == pytest.approx(mres["macro_f1"])
        if "acc_norm,none" in res:
            assert res["acc_norm,none"] == pytest.approx(mres["acc_norm"])
        varied += len({s["pred"] for s in mine}) > 1
    assert varied >= 1  # not a degenerate model that predicts one label everywhere


def test_adapter_cli(lm_eval_runs, sharp_model_dir, tmp_path, capsys, monkeypatch):
    _, include = lm_eval_runs
    from lm_eval.tasks import TaskManager

    from polyglot_ko.eval.lm_eval_adapter import main

    # lm-eval's CLI indexes its ~10k built-in task files (10-20 s); only the --include_path folder is needed here.
    init = TaskManager.__init__

    def only_included(self, *args, include_defaults=True, **kwargs):
        init(self, *args, include_defaults=False, **kwargs)

    monkeypatch.setattr(TaskManager, "__init__", only_included)

    out = tmp_path / "out"
    main(
        [
            "--model",
            "polyglot-ko",
            "--model_args",
            f"pretrained={sharp_model_dir}",
            "--tasks",
            "kobest_copa",
            "--include_path",
            str(include),
            "--limit",
            "2",
            "--device",
            "cpu",
            "--output_path",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    assert "kobest_copa" in printed and "polyglot-ko" in printed
    files = list(out.rglob("results*.json"))
    assert files and json.loads(files[0].read_text())["results"]["kobest_copa"]["acc,none"] >= 0


class _Req:
    def __init__(self, *args):
        self.args = args


def test_adapter_rolling_and_generation(sharp_model_dir, sharp_model, tokenizer):
    """loglikelihood_rolling equals our perplexity's per-document NLL (documents shorter than the window);
    generate_until equals transformers' greedy decoding cut at the stop string."""
    from transformers import AutoModelForCausalLM

    from polyglot_ko.eval.lm_eval_adapter import PolyglotKoLM
    from polyglot_ko.eval.perplexity import per_document_nll

    lm = PolyglotKoLM(pretrained=str(sharp_model_dir))
    texts = ["안녕하세요. 반갑습니다.", "한국어 언어 모델을 평가한다. 문장이 조금 더 길다."]
    rolling = lm.loglikelihood_rolling([_Req(t) for t in texts], disable_tqdm=True)
    ref = per_document_nll(sharp_model, [tokenizer.encode(t) for t in texts], context=512, stride=512)
    assert rolling == pytest.approx([-x for x in ref], abs=TOL)

    hf = AutoModelForCausalLM.from_pretrained(sharp_model_dir, dtype="float32").eval()
    prompt = "오늘 날씨는"
    ids = tokenizer.encode(prompt)
    import torch

    with torch.no_grad():
        greedy = hf.generate(
            torch.tensor([ids]), max_new_tokens=12, do_sample=False, eos_token_id=None, pad_token_id=0
        )[0, len(ids) :].tolist()
    full = tokenizer.decode(greedy)
    (text,) = lm.generate_until([_Req(prompt, {"until": [], "max_gen_toks": 12})], disable_tqdm=True)
    assert text == full and len(text) > 0
    stop = full[len(full) // 2 : len(full) // 2 + 1]
    if stop.strip():
        (cut,) = lm.generate_until([_Req(prompt, {"until": [stop], "max_gen_toks": 12})], disable_tqdm=True)
        assert cut == full.split(stop)[0]


def test_adapter_generate_until_batches_requests_like_transformers_greedy(sharp_model_dir, tokenizer):
    """Several requests with different prompts, stops and budgets in one call, two rows at a time (rows join and
    leave the running batch): each equals transformers' greedy decoding of its prompt alone, cut at its stop."""
    import torch
    from transformers import AutoModelForCausalLM

    from polyglot_ko.eval.lm_eval_adapter import PolyglotKoLM

    hf = AutoModelForCausalLM.from_pretrained(sharp_model_dir, dtype="float32").eval()

    def hf_greedy(prompt: str, n: int) -> str:
        ids = tokenizer.encode(prompt)
        with torch.no_grad():
            new = hf.generate(torch.tensor([ids]), max_new_tokens=n, do_sample=False, eos_token_id=2, pad_token_id=0)[
                0, len(ids) :
            ].tolist()
        return tokenizer.decode(new[: new.index(2)] if 2 in new else new)

    prompts = ["오늘 날씨는", "한국어 언어 모델을 평가한다. 문장이", "서울", "옛날 옛적에 어느 마을에"]
    requests, expected = [], []
    for i, p in enumerate(prompts):
        full = hf_greedy(p, 10 - i)
        stop = full[len(full) // 2] if i % 2 and full.strip() else "\x00never"  # odd requests stop midway
        requests.append(_Req(p, {"until": [stop], "max_gen_toks": 10 - i}))
        expected.append(full.split(stop)[0])
    got = PolyglotKoLM(pretrained=str(sharp_model_dir), batch_size=2).generate_until(requests, disable_tqdm=True)
    assert got == expected
    cut = [len(e) < len(hf_greedy(p, 10 - i)) for i, (p, e) in enumerate(zip(prompts, expected, strict=True))]
    assert all(got) and any(cut)  # every request produced text, and a stop string took effect
