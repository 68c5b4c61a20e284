"""`polyglot-ko evaluate` through the real CLI: results.json layout, the printed card-style table, one-line errors."""

from __future__ import annotations

import json

from polyglot_ko.cli import main


def test_evaluate_writes_results_and_table(sharp_model_dir, kobest_dir, tmp_path, capsys):
    out = tmp_path / "results.json"
    code = main(
        [
            "evaluate",
            "--model",
            str(sharp_model_dir),
            "--data-dir",
            str(kobest_dir),
            "--tasks",
            "copa,kobest_sentineg",
            "--shots",
            "0,1",
            "--limit",
            "6",
            "--output",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "### COPA (F1)" in printed and "| Model | 0-shot | 1-shot |" in printed and "### SentiNeg (F1)" in printed
    r = json.loads(out.read_text())
    assert set(r["results"]) == {"kobest_copa", "kobest_sentineg"}
    for task in r["results"].values():
        assert set(task) == {"0", "1"}
        for m in task.values():
            assert set(m) >= {"macro_f1", "acc", "acc_norm", "n"} and m["n"] == 6
            assert 0 <= m["macro_f1"] <= 1 and 0 <= m["acc"] <= 1
    assert r["config"]["protocol"] == "polyglot" and r["config"]["max_length"] == 512
    assert r["markdown"] in printed


def test_user_errors_are_one_line(sharp_model_dir, kobest_dir, tmp_path, capsys):
    cases = [
        (["--tasks", "kobest_nope"], "not a KOBEST task"),
        (["--shots", "0,five"], "--shots"),
        (["--data-dir", str(tmp_path)], "is missing"),
        (["--limit", "0"], "--limit 0"),
    ]
    for extra, message in cases:
        args = ["evaluate", "--model", str(sharp_model_dir), "--data-dir", str(kobest_dir), "--limit", "2"] + extra
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and message in err and "\n" not in err
    assert main(["evaluate", "--model", str(tmp_path / "absent"), "--data-dir", str(kobest_dir)]) == 2
    assert "does not exist" in capsys.readouterr().err
