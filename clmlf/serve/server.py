"""``clmlf serve RUN``: find the run, load its model once and serve the app with uvicorn."""

from __future__ import annotations

import logging
from pathlib import Path

from clmlf.model import WEIGHTS_NAME

logger = logging.getLogger("clmlf")
INSTALL_HINT = 'clmlf serve needs the serve extra: pip install "clmlf[serve]"'


def find_run(name: str | Path) -> Path:
    """A run directory from what a person types: the run folder itself, its ``checkpoint/`` folder, or a preset name
    (``mvsa_single_demo`` -> ``runs/mvsa_single_demo``, where ``clmlf train configs/<name>.yaml`` writes it)."""
    path = Path(name)
    candidates = [path, path.parent] if path.name == "checkpoint" else [path]
    if len(path.parts) == 1 and not path.exists():
        candidates.append(Path("runs") / path)
    for folder in candidates:
        if (folder / "checkpoint" / WEIGHTS_NAME).is_file() and (folder / "metrics.json").is_file():
            return folder
    tried = ", ".join(str(folder) for folder in candidates)
    raise FileNotFoundError(f"{name}: no trained run there (looked in {tried} for checkpoint/{WEIGHTS_NAME} and "
                            f"metrics.json); pass a run directory made by `clmlf train --out DIR`, its checkpoint "
                            "folder, or a preset name whose run is in runs/ (e.g. `make demo` writes runs/mvsa_single_demo)")


def load_app(run: str | Path, max_upload_bytes: int = 10_000_000, queue_size: int = 16, device: str = "auto"):
    """The FastAPI app for the run's best checkpoint (loaded here, once)."""
    try:
        from clmlf.serve.app import create_app
    except ImportError as error:
        raise ImportError(f"{INSTALL_HINT} ({error})") from None
    from clmlf.serve.explain import Explainer
    from clmlf.train.predict import Predictor

    return create_app(Explainer(Predictor(find_run(run), device)), max_upload_bytes, queue_size)


def serve(run: str | Path, host: str = "127.0.0.1", port: int = 8000, max_upload_mb: float = 10, queue_size: int = 16,
          device: str = "auto") -> None:
    """Serve until interrupted. At most ``4 * queue_size`` connections are open at once (503 beyond: uvicorn's
    ``limit_concurrency``), so bodies in memory stay under that times the upload limit."""
    app = load_app(run, int(max_upload_mb * 1e6), queue_size, device)
    import uvicorn

    logger.info("clmlf serve: http://%s:%d/ (API docs at /docs)", host, port)
    uvicorn.run(app, host=host, port=port, limit_concurrency=4 * queue_size, log_level="warning")
