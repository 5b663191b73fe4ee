"""Where a checkpoint named by :meth:`clmlf.CLMLF.from_pretrained` lies: a local folder, or a Hugging Face Hub
repository fetched into (or found in) huggingface_hub's cache."""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import snapshot_download
from huggingface_hub.errors import HFValidationError, HfHubHTTPError, LocalEntryNotFoundError
from huggingface_hub.utils import validate_repo_id

from clmlf.model_card import LIBRARY_NAME


def checkpoint_folder(source: str | Path, revision: str | None = None, cache_dir: str | Path | None = None,
                      force_download: bool = False, local_files_only: bool = False, token: str | bool | None = None) -> Path:
    """``source`` itself when it is a folder; else ``source`` is a Hub repository id (``user/name``) and the folder is
    its snapshot in the cache (``cache_dir``, default ``HF_HUB_CACHE``): downloaded whole (a checkpoint has part
    folders), or read from the cache only with ``HF_HUB_OFFLINE=1`` or ``local_files_only``."""
    from clmlf import __version__

    path = Path(source)
    if path.is_dir():
        return path
    if path.exists():
        raise FileNotFoundError(f"{source} is a file; pass the checkpoint folder (config.json + model.safetensors) or a Hub id")
    try:
        validate_repo_id(str(source))
    except HFValidationError:
        raise FileNotFoundError(f"{source}: no such checkpoint folder (and not a Hub repository id like user/name); "
                                "pass the folder save_pretrained wrote") from None
    try:
        return Path(snapshot_download(str(source), revision=revision, cache_dir=cache_dir, force_download=force_download,
                                      local_files_only=local_files_only, token=token, library_name=LIBRARY_NAME,
                                      library_version=__version__))
    except (LocalEntryNotFoundError, HfHubHTTPError) as error:
        cause = " ".join(str(error).split())
        raise FileNotFoundError(f"{source}: no such checkpoint folder, and the Hub repository {source!r} could not be "
                                f"fetched ({cause}); check the path or id, or download it while online (the cache then "
                                "serves it offline)") from None
