"""`polyglot-ko export-gguf` and `polyglot-ko push` on the command line."""

from __future__ import annotations

import pytest

from polyglot_ko.cli import main


def test_export_gguf_command_writes_a_readable_file(tiny_model_dir, tmp_path, capsys):
    gguf = pytest.importorskip("gguf")
    out = tmp_path / "tiny-q8_0.gguf"
    assert main(["export-gguf", str(tiny_model_dir), str(out), "--type", "q8_0"]) == 0
    reader = gguf.GGUFReader(str(out))
    arch = reader.fields["general.architecture"]
    assert bytes(arch.parts[arch.data[0]]).decode() == "gptneox"
    assert any(t.name == "token_embd.weight" for t in reader.tensors)
    assert "wrote" in capsys.readouterr().out


def test_export_and_push_errors_are_one_line(tiny_model_dir, tmp_path, capsys, monkeypatch):
    assert main(["export-gguf", str(tmp_path / "missing"), str(tmp_path / "x.gguf")]) == 2
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["push", str(tiny_model_dir), "someone/polyglot-ko-tiny"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: cannot reach the Hugging Face hub") and "Traceback" not in "".join(err)
