"""push(): every check before the network call, and the one-line error when the hub is unreachable.

The hub is unreachable from the test machines, so the upload itself is not exercised; what is tested is what a
user sees here: bad folders and repo ids are rejected before any request, and the offline failure (no network,
or HF_HUB_OFFLINE=1) is a clean UserError rather than a client traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from polyglot_ko import UserError, build_model, save_model
from polyglot_ko.export.hub import check_repo_id, is_network_error, push

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def folder(tmp_path_factory, reference_tokenizer_dir):
    return save_model(
        build_model("tiny", seed=0),
        tmp_path_factory.mktemp("push") / "m",
        tokenizer=reference_tokenizer_dir,
        model_card={"base_model": "EleutherAI/polyglot-ko-1.3b"},
    )


def _hub_reachable() -> bool:
    import socket

    try:
        socket.create_connection(("huggingface.co", 443), timeout=3).close()
        return True
    except OSError:
        return False


def one_line(e) -> str:
    assert "\n" not in str(e.value)
    return str(e.value)


def test_offline_push_is_a_clean_error(folder):
    if _hub_reachable():
        pytest.skip("huggingface.co is reachable from here; this test checks the offline error")
    with pytest.raises(UserError) as e:
        push(folder, "someone/polyglot-ko-tiny", private=True, revision="dev", token="hf_not_a_real_token")
    msg = one_line(e)
    assert msg.startswith("cannot reach the Hugging Face hub") and "someone/polyglot-ko-tiny" in msg
    # The card was refreshed for the repo before the network call, and keeps the info given at save time.
    from huggingface_hub import ModelCard

    card = ModelCard.load(folder / "README.md")
    assert 'from_pretrained("someone/polyglot-ko-tiny")' in card.text
    assert card.data.base_model == "EleutherAI/polyglot-ko-1.3b"


def test_hf_hub_offline_mode_is_a_clean_error(folder):
    code = (
        "import sys\nfrom polyglot_ko.errors import UserError\nfrom polyglot_ko.export.hub import push\n"
        "try:\n    push(sys.argv[1], 'someone/x', token='hf_x')\nexcept UserError as e:\n    print(e)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT / "src")}
    r = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith("cannot reach the Hugging Face hub"), r.stdout + r.stderr[-2000:]


def test_bad_folders_are_rejected_before_the_network(folder, tmp_path):
    with pytest.raises(UserError) as e:
        push(tmp_path / "nowhere", "me/x")
    assert "does not exist" in one_line(e)
    (tmp_path / "nocfg").mkdir()
    with pytest.raises(UserError) as e:
        push(tmp_path / "nocfg", "me/x")
    assert "config.json" in one_line(e)
    notok = save_model(build_model("tiny", seed=0), tmp_path / "notok")
    with pytest.raises(UserError) as e:
        push(notok, "me/x")
    assert "tokenizer.json" in one_line(e)
    (folder / "model.safetensors").rename(tmp_path / "weights")
    try:
        with pytest.raises(UserError) as e:
            push(folder, "me/x")
        assert "holds no weights" in one_line(e)
    finally:
        (tmp_path / "weights").rename(folder / "model.safetensors")


@pytest.mark.parametrize("bad", ["a/b/c", "", "/", "me/has space", "me/--x"])
def test_bad_repo_ids(folder, bad):
    with pytest.raises(UserError) as e:
        push(folder, bad)
    assert "repo id" in one_line(e)


def test_good_repo_ids():
    assert check_repo_id("me/polyglot-ko-tiny.v2") == "me/polyglot-ko-tiny.v2"
    assert check_repo_id("polyglot-ko-tiny") == "polyglot-ko-tiny"


def test_network_error_classification():
    class ConnectError(Exception):  # the shape of httpx's / httpx2's error, by class name
        pass

    try:
        try:
            raise ConnectError("[Errno -2] Name or service not known")
        except ConnectError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as e:
        assert is_network_error(e)
    assert is_network_error(ConnectionRefusedError())
    assert not is_network_error(ValueError("bad value"))
