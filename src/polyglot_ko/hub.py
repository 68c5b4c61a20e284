"""Resolve "a local folder or a Hugging Face hub id" to a local folder, with an offline error users can act on."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from .errors import UserError


def looks_like_hub_id(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and all(parts) and not name.startswith((".", "/", "~"))


def resolve_folder(
    path_or_hub_id: str | os.PathLike,
    allow_patterns: Sequence[str] | None = None,
    revision: str | None = None,
    what: str = "model",
) -> Path:
    """Return a local folder for `path_or_hub_id`.

    A path that exists is used as is. Otherwise a name shaped like `owner/name` is fetched with
    `huggingface_hub.snapshot_download` (the hub cache is used when present, so offline use works after one
    download). Anything else, or a hub that cannot be reached, is a `UserError` saying what to do.
    """
    path = Path(os.path.expanduser(str(path_or_hub_id)))
    if path.exists():
        if not path.is_dir():
            raise UserError(f"{what} path {path} is a file; pass the folder that contains it")
        return path
    name = str(path_or_hub_id)
    if not looks_like_hub_id(name):
        raise UserError(
            f"{what} folder {name} does not exist; pass an existing folder or a hub id like EleutherAI/polyglot-ko-1.3b"
        )
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    try:
        return Path(
            snapshot_download(name, revision=revision, allow_patterns=list(allow_patterns) if allow_patterns else None)
        )
    except RepositoryNotFoundError:
        raise UserError(
            f"hub {what} {name} was not found (or is private); check the id, or log in with `huggingface-cli login`"
        ) from None
    except LocalEntryNotFoundError:
        raise UserError(
            f"cannot reach the Hugging Face hub to fetch {name}, and it is not in the local cache; "
            f"connect to the internet once, or download it elsewhere (`huggingface-cli download {name} "
            f"--local-dir DIR`) and pass the folder DIR"
        ) from None
    except (HfHubHTTPError, OSError) as e:
        raise UserError(
            f"could not fetch {what} {name} from the hub ({type(e).__name__}: {str(e).splitlines()[0]}); "
            f"pass a local folder instead, or retry when the hub is reachable"
        ) from None
