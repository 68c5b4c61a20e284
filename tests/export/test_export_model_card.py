"""The README.md model card save_model writes, parsed by huggingface_hub's own ModelCard."""

from __future__ import annotations

import json
import shutil

import pytest
from huggingface_hub import ModelCard

from polyglot_ko import UserError, build_model, load_model, save_model
from polyglot_ko.export.model_card import (
    CARD_MARKER,
    EVAL_RESULTS_FILE,
    ModelCardInfo,
    is_generated_card,
    read_eval_results,
    write_eval_results,
    write_model_card,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

KOBEST = {
    "results": {
        "kobest_copa": {"0": {"macro_f1": 0.5123, "acc": 0.52, "acc_norm": 0.51, "n": 100}},
        "kobest_boolq": {"0": {"macro_f1": 0.3344, "acc": 0.5, "acc_norm": 0.5, "n": 100}},
    },
    "config": {"model": "m", "protocol": "polyglot", "limit": 100},
}
PPL = {"source": "valid.jsonl", "perplexity": 812.345, "bits_per_character": 3.2109, "tokens": 4567, "context": 512}


@pytest.fixture(scope="module")
def tiny():
    return build_model("tiny", seed=0)


def test_card_metadata_and_sections(tiny, tmp_path, reference_tokenizer_dir):
    folder = save_model(
        tiny,
        tmp_path / "ko-tiny",
        tokenizer=reference_tokenizer_dir,
        model_card=ModelCardInfo(base_model="EleutherAI/polyglot-ko-1.3b", datasets=["my/corpus"]),
    )
    card = ModelCard.load(folder / "README.md")
    data = card.data.to_dict()
    assert data["language"] == ["ko"]
    assert data["license"] == "apache-2.0"
    assert data["library_name"] == "transformers"
    assert data["pipeline_tag"] == "text-generation"
    assert data["base_model"] == "EleutherAI/polyglot-ko-1.3b"
    assert data["datasets"] == ["my/corpus"]
    assert {"polyglot-ko", "gpt_neox", "korean"} <= set(data["tags"])
    assert data["model_name"] == "ko-tiny"
    text = card.text
    assert f"{tiny.num_parameters():,} parameters" in text
    assert "| layers | 2 |" in text and "| rotary dims per head | 16" in text
    assert "863 GB" in text  # the released training data, since the base is an EleutherAI model
    assert "<|acc|>" in text and "<|tel|>" in text and "<|rrn|>" in text
    assert "AutoModelForCausalLM.from_pretrained" in text and "export-gguf" in text and "vllm serve" in text
    assert "No evaluation results" in text
    assert is_generated_card(folder / "README.md")


def test_card_without_base_model_has_no_base_model_field(tiny, tmp_path):
    folder = save_model(tiny, tmp_path / "m")
    data = ModelCard.load(folder / "README.md").data.to_dict()
    assert "base_model" not in data
    assert "Not recorded" in (folder / "README.md").read_text()


def test_eval_results_appear_in_the_card_and_survive_refresh(tiny, tmp_path):
    folder = save_model(tiny, tmp_path / "m", model_card={"base_model": "EleutherAI/polyglot-ko-1.3b"})
    write_eval_results(folder, kobest=KOBEST)
    write_eval_results(folder, perplexity=PPL)
    stored = json.loads((folder / EVAL_RESULTS_FILE).read_text())
    assert stored["kobest"]["results"] == KOBEST["results"] and stored["perplexity"] == PPL
    card = ModelCard.load(folder / "README.md")
    assert "| this model | 0.5123 |" in card.text and "0.3344" in card.text
    assert "812.345 per token" in card.text and "3.2109 bits per character" in card.text
    assert card.data.base_model == "EleutherAI/polyglot-ko-1.3b"  # the stored info is kept on refresh


def test_bare_evaluate_output_is_read(tiny, tmp_path):
    """`polyglot-ko evaluate --output FOLDER/eval_results.json` writes a bare result; the card reads it."""
    folder = tmp_path / "m"
    src = tmp_path / "r.json"
    src.write_text(json.dumps(KOBEST))
    save_model(tiny, folder, extra_files={EVAL_RESULTS_FILE: src})
    assert read_eval_results(folder)["kobest"]["results"] == KOBEST["results"]
    assert "0.5123" in (folder / "README.md").read_text()


def test_user_readme_is_kept(tiny, tmp_path):
    folder = save_model(tiny, tmp_path / "m")
    (folder / "README.md").write_text("# my own card\n")
    save_model(tiny, folder)
    assert (folder / "README.md").read_text() == "# my own card\n"
    assert write_model_card(folder) is None
    assert (folder / "README.md").read_text() == "# my own card\n"
    write_model_card(folder, overwrite=True)
    assert CARD_MARKER in (folder / "README.md").read_text()


def test_our_card_is_regenerated_and_no_card_on_request(tiny, tmp_path):
    folder = save_model(tiny, tmp_path / "m", model_card={"training_data": "위키백과 1,000 문서."})
    save_model(tiny, folder)  # re-save: our card is rewritten from the stored info
    assert "위키백과 1,000 문서." in (folder / "README.md").read_text()
    save_model(tiny, tmp_path / "bare", model_card=False)
    assert not (tmp_path / "bare" / "README.md").exists()


def test_card_info_errors(tiny, tmp_path):
    with pytest.raises(UserError) as e:
        save_model(tiny, tmp_path / "m", model_card={"base": "x"})
    assert "unknown field(s) base" in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "m").exists()


def test_folder_still_loads_with_card(tiny, tmp_path, reference_tokenizer_dir):
    folder = save_model(tiny, tmp_path / "m", tokenizer=reference_tokenizer_dir)
    cfg = json.loads((folder / "tokenizer_config.json").read_text())
    assert cfg["model_input_names"] == ["input_ids", "attention_mask"]
    original = json.loads((reference_tokenizer_dir / "tokenizer_config.json").read_text())
    assert cfg["chat_template"].startswith("{#- Polyglot-Ko KoAlpaca-style chat")
    assert {k: v for k, v in cfg.items() if k not in ("model_input_names", "chat_template")} == original
    import torch

    again = load_model(folder)
    for (n, a), (_, b) in zip(tiny.state_dict().items(), again.state_dict().items(), strict=True):
        assert torch.equal(a, b), n
    shutil.rmtree(folder)
