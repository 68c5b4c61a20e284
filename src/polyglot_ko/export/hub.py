"""Push a model folder to the Hugging Face hub: `push(model_dir, repo_id)`.

Everything that can be checked offline is checked before the first request (a complete model folder, a valid
repo id, a model card: a generated one is refreshed so it names `repo_id` and the latest eval_results.json).
Then `HfApi().create_repo(..., exist_ok=True)`, `create_branch` for a revision, and `upload_folder`. An
unreachable hub, a missing login or a refused repo is a one-line `UserError` saying what to do, worded like the
download errors of `polyglot_ko.hub`.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import UserError

# Files a pushed model folder needs; weights are checked separately (single file or shard index).
_REQUIRED = ("config.json", "tokenizer.json")
# Never uploaded: our temporary files, editor and OS litter.
IGNORE_PATTERNS = [".*", "**/.*", "*.tmp", "__pycache__/*"]

_NETWORK_ERRORS = {
    "ConnectionError",
    "ConnectError",
    "ConnectTimeout",
    "ReadTimeout",
    "Timeout",
    "TimeoutException",
    "TransportError",
    "NetworkError",
    "ProxyError",
    "SSLError",
    "OfflineModeIsEnabled",
    "MaxRetryError",
    "NewConnectionError",
}


def is_network_error(e: BaseException) -> bool:
    """True for "the hub could not be reached" errors, whichever HTTP client huggingface_hub uses (requests,
    httpx, httpx2) and offline mode (HF_HUB_OFFLINE=1)."""
    if isinstance(e, (ConnectionError, TimeoutError)):
        return True
    seen: set[int] = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if any(c.__name__ in _NETWORK_ERRORS for c in type(e).__mro__):
            return True
        e = e.__cause__ or e.__context__
    return False


def offline_error(action: str) -> UserError:
    return UserError(
        f"cannot reach the Hugging Face hub to {action}; connect to the internet (or unset "
        f"HF_HUB_OFFLINE) and retry, or copy the folder to a machine that can reach the hub and push "
        f"from there"
    )


def check_model_folder(model_dir: str | os.PathLike) -> Path:
    """The folder, after checking it is a complete model folder that loads elsewhere (else a UserError)."""
    from ..checkpoint import _weight_files

    folder = Path(os.path.expanduser(str(model_dir)))
    if not folder.is_dir():
        raise UserError(f"model folder {folder} does not exist; pass the folder save_model or the quickstart wrote")
    missing = [n for n in _REQUIRED if not (folder / n).is_file()]
    if missing:
        raise UserError(
            f"{folder} lacks {', '.join(missing)}; a pushed model needs its config and tokenizer: save "
            f"it with save_model(model, folder, tokenizer=...)"
        )
    _weight_files(folder)  # raises a UserError for no / incomplete weights
    from ..config import ModelConfig

    ModelConfig.from_json_file(folder / "config.json")
    return folder


def check_repo_id(repo_id: str) -> str:
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if not isinstance(repo_id, str) or repo_id.count("/") > 1 or not repo_id.strip("/"):
        raise UserError(f"repo id {repo_id!r} is not valid; use NAME or OWNER/NAME, e.g. me/polyglot-ko-tiny")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as e:
        raise UserError(
            f"repo id {repo_id!r} is not valid ({str(e).splitlines()[0]}); use OWNER/NAME with "
            f"letters, digits, '-', '_' and '.'"
        ) from None
    return repo_id


def push(
    model_dir: str | os.PathLike,
    repo_id: str,
    private: bool = False,
    revision: str | None = None,
    token: str | None = None,
    commit_message: str | None = None,
) -> str:
    """Upload the model folder `model_dir` to the hub model repo `repo_id` (created if absent); returns its URL.

    private: create the repo private (an existing repo keeps its visibility). revision: a branch to push to
    (created from main if absent). token: a hub token (default: the login of `hf auth login` / HF_TOKEN).
    A generated README.md model card is refreshed first (naming `repo_id`); a user-written one is uploaded as is.
    """
    folder = check_model_folder(model_dir)
    repo_id = check_repo_id(repo_id)
    if revision is not None and (not revision or revision != revision.strip()):
        raise UserError(f"revision {revision!r} is not a branch name; pass e.g. --revision dev")

    from .model_card import CARD_FILE, ModelCardInfo, _stored_info, is_generated_card, write_model_card

    card = folder / CARD_FILE
    if not card.exists() or is_generated_card(card):
        info = (_stored_info(card) if card.exists() else None) or ModelCardInfo()
        info.repo_id = repo_id
        write_model_card(folder, info)

    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi(token=token)
    try:
        url = api.create_repo(repo_id, private=private, repo_type="model", exist_ok=True)
        if revision is not None:
            api.create_branch(repo_id, branch=revision, repo_type="model", exist_ok=True)
        api.upload_folder(
            repo_id=repo_id,
            folder_path=str(folder),
            repo_type="model",
            revision=revision,
            commit_message=commit_message or f"Upload {folder.name} with polyglot-ko",
            ignore_patterns=IGNORE_PATTERNS,
        )
    except UserError:
        raise
    except Exception as e:  # the client's exception types vary by version; classify, then re-raise the rest
        if is_network_error(e):
            raise offline_error(f"push {folder} to {repo_id}") from None
        name = type(e).__name__
        if name == "LocalTokenNotFoundError" or "token" in str(e).lower() and "not found" in str(e).lower():
            raise UserError(
                f"pushing to {repo_id} needs a Hugging Face login; run `hf auth login` (or set "
                f"HF_TOKEN, or pass token=...)"
            ) from None
        if isinstance(e, HfHubHTTPError):
            status = getattr(getattr(e, "response", None), "status_code", None)
            if status in (401, 403):
                raise UserError(
                    f"the hub refused the push to {repo_id} (HTTP {status}); check that your token has "
                    f"write access to {repo_id.split('/')[0] if '/' in repo_id else 'your namespace'}"
                ) from None
            raise UserError(
                f"the hub refused the push to {repo_id} ({name}: {str(e).splitlines()[0]}); check the "
                f"repo id and your access, then retry"
            ) from None
        raise
    return str(url)
