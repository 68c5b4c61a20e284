"""`polyglot-ko evaluate --adapter DIR`: a LoRA adapter (trained here a few steps, saved as a peft folder) is
applied for perplexity and KOBEST; the numbers differ from the base model's and equal the merged model's."""

from __future__ import annotations

import json

import pytest
import torch

from polyglot_ko import UserError, load_model, load_tokenizer
from polyglot_ko.cli import main
from polyglot_ko.eval._common import load_model_any

pytest.importorskip("peft")
pytestmark = pytest.mark.usefixtures("one_torch_thread")

TEXTS = [
    "안녕하세요. 오늘은 날씨가 맑고 바람이 조금 붑니다.",
    "폴리글랏 한국어 모델은 GPT-NeoX 구조를 따른다.",
    "서울특별시 종로구에 있는 경복궁은 조선의 법궁이다.",
]


@pytest.fixture(scope="module")
def adapter_and_merged(sharp_model_dir, tmp_path_factory):
    """A LoRA adapter on the sharp tiny model after 6 AdamW steps on TEXTS, and base + adapter merged."""
    from polyglot_ko.finetune.lora import LORA_TARGETS, add_lora, merge, save_adapter

    tok = load_tokenizer(sharp_model_dir)
    torch.manual_seed(0)  # LoRA A's initialisation and the dropout masks
    model = add_lora(load_model(sharp_model_dir), r=4, alpha=8, targets=LORA_TARGETS)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    for _ in range(6):
        for text in TEXTS:
            ids = torch.tensor([tok.encode(text)])
            model(ids, labels=ids).loss.backward()
            opt.step()
            opt.zero_grad()
    root = tmp_path_factory.mktemp("eval-lora")
    adapter = save_adapter(model, root / "adapter", base_model_name_or_path=sharp_model_dir)
    merged = merge(sharp_model_dir, adapter, root / "merged")
    return adapter, merged


def _evaluate(capsys, *argv) -> dict:
    assert main(["evaluate", *argv]) == 0
    return capsys.readouterr().out


def test_perplexity_with_an_adapter_is_the_merged_models(sharp_model_dir, adapter_and_merged, tmp_path, capsys):
    adapter, merged = adapter_and_merged
    data = tmp_path / "valid.jsonl"
    data.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in TEXTS), encoding="utf-8")

    def ppl(*extra) -> dict:
        out = tmp_path / "r.json"
        _evaluate(capsys, *extra, "--perplexity", str(data), "--output", str(out))
        return json.loads(out.read_text())

    base = ppl("--model", str(sharp_model_dir))
    with_adapter = ppl("--model", str(sharp_model_dir), "--adapter", str(adapter))
    merged_r = ppl("--model", str(merged))
    assert with_adapter["tokens"] == base["tokens"] == merged_r["tokens"] > 0
    # trained on these very texts: the adapter lowers their perplexity clearly
    assert with_adapter["perplexity"] < 0.9 * base["perplexity"]
    assert with_adapter["perplexity"] == pytest.approx(merged_r["perplexity"], rel=1e-5)
    assert with_adapter["nll"] == pytest.approx(merged_r["nll"], rel=1e-5)
    assert with_adapter["adapter"] == str(adapter) and "adapter" not in base


def test_kobest_with_an_adapter_is_the_merged_models(sharp_model_dir, adapter_and_merged, kobest_dir, tmp_path, capsys):
    adapter, merged = adapter_and_merged
    common = ["--data-dir", str(kobest_dir), "--tasks", "copa,kobest_sentineg", "--shots", "0", "--limit", "8"]
    results = {}
    for name, model_args in {
        "adapter": ["--model", str(sharp_model_dir), "--adapter", str(adapter)],
        "merged": ["--model", str(merged)],
    }.items():
        out = tmp_path / f"kobest-{name}.json"
        printed = _evaluate(capsys, *model_args, *common, "--output", str(out))
        results[name] = json.loads(out.read_text())
        results[name]["printed"] = printed
    a, m = results["adapter"], results["merged"]
    assert a["config"]["adapter"] == str(adapter) and "adapter" not in m["config"]
    assert f"| model + {adapter.name} |" in a["printed"]
    assert set(a["results"]) == set(m["results"]) == {"kobest_copa", "kobest_sentineg"}
    for task in a["results"]:
        for key in ("macro_f1", "acc", "acc_norm", "n"):
            assert a["results"][task]["0"][key] == pytest.approx(m["results"][task]["0"][key]), (task, key)


def test_an_adapter_with_a_model_object_is_refused(sharp_model, adapter_and_merged):
    adapter, _ = adapter_and_merged
    with pytest.raises(UserError, match=r"adapter=.*pass the model folder") as e:
        load_model_any(sharp_model, adapter=adapter)
    assert "\n" not in str(e.value)
