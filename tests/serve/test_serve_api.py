"""``clmlf serve``'s JSON API on a tiny trained run: good posts, every kind of bad input (4xx + message, the server
keeps serving), the bounded queue, run lookup and the page's self-contained assets."""

from __future__ import annotations

import asyncio
import base64
import io
import struct
import time
import zlib
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install clmlf[serve])")
import httpx  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from PIL import Image  # noqa: E402

from clmlf.cli import main  # noqa: E402
from clmlf.serve.app import STATIC, create_app  # noqa: E402
from clmlf.serve.explain import Explainer, Limits  # noqa: E402
from clmlf.serve.server import find_run, load_app  # noqa: E402
from clmlf.train.predict import Predictor  # noqa: E402
from serve_runs import tiny_aspect_run, tiny_run, tiny_text_run  # noqa: E402,F401

TEXT = "great happy sunny love"


@pytest.fixture(scope="module")
def client(tiny_run) -> TestClient:
    return TestClient(load_app(tiny_run, max_upload_bytes=200_000))


def jpeg(size=(40, 32), colour=(230, 180, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="JPEG")
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` (a decompression bomb: small file, huge image)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def post(client, text=TEXT, image: bytes | None = b"jpeg", aspect=None, **files):
    data = {"text": text} if text is not None else {}
    if aspect is not None:
        data["aspect"] = aspect
    upload = {"image": ("post.jpg", jpeg() if image == b"jpeg" else image, "image/jpeg")} if image is not None else {}
    return client.post("/predict", data=data, files=upload or files or None)


def test_health_describes_the_model(client):
    answer = client.get("/health")
    assert answer.status_code == 200
    model = answer.json()["model"]
    assert model["labels"] == ["negative", "neutral", "positive"]
    assert model["needs_image"] and not model["uses_aspect"]


def test_predict_returns_label_probabilities_and_attention_maps(client):
    answer = post(client)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    probabilities = result["probabilities"]
    assert result["label"] == max(probabilities, key=probabilities.get)
    assert sum(probabilities.values()) == pytest.approx(1, abs=1e-3)
    assert [word["text"] for word in result["words"]] == TEXT.split()
    image, fusion = result["image"], result["fusion"]
    grid = image["pooling"]
    assert len(grid) == len(grid[0]) >= 1
    pooled = sum(w["pooling"] for w in result["words"]) + sum(map(sum, grid)) + image["pooling_other"]
    assert 0.5 < pooled <= 1 + 1e-3  # the rest on [CLS]/[SEP]; every share positive
    assert image["src"].startswith("data:image/png;base64,")
    view = Image.open(io.BytesIO(base64.b64decode(image["src"].split(",", 1)[1])))
    assert view.size == (64, 64)  # the tiny config's image_size
    maps = fusion["maps"]
    assert len(maps) == fusion["layers"] == 2 and len(maps[0]) == fusion["heads"] == 2
    assert len(maps[0][0]) == len(result["words"]) and len(maps[0][0][0]) == len(grid)
    assert all(0 < sum(map(sum, word)) <= 1 + 1e-3 for layer in maps for head in layer for word in head)


def test_json_and_multipart_posts_agree(client):
    image = jpeg(colour=(40, 40, 160))
    multipart = post(client, "awful sad rain", image).json()
    as_json = client.post("/predict", json={"text": "awful sad rain", "image": base64.b64encode(image).decode()}).json()
    assert as_json["probabilities"] == multipart["probabilities"]
    assert as_json["fusion"] == multipart["fusion"]


BAD_POSTS = {
    "empty text": (dict(text="  "), 400, "text is empty"),
    "long text": (dict(text="word " * 500), 400, "characters"),
    "missing image": (dict(image=None), 400, "needs an image"),
    "not an image": (dict(image=b"%PDF-1.4 definitely not a picture"), 400, "not an image"),
    "empty image": (dict(image=b""), 400, "needs an image"),
    "truncated image": (dict(image=jpeg()[:200]), 400, "image cannot be used"),
    "decompression bomb": (dict(image=png_claiming(20_000, 20_000)), 400, "decompression bomb"),
    "aspect for a sentence model": (dict(aspect="sun"), 400, "without aspects"),
    "over the upload limit": (dict(image=b"\xff" * 300_000), 413, "over the limit"),
}


@pytest.mark.parametrize("case", BAD_POSTS, ids=list(BAD_POSTS))
def test_bad_posts_get_4xx_with_a_message_and_the_server_keeps_serving(client, case):
    fields, status, message = BAD_POSTS[case]
    answer = post(client, **fields)
    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"]
    assert post(client).status_code == 200


@pytest.mark.parametrize(("body", "kind", "status", "message"), [
    (b"{not json", "application/json", 400, "not a post"),
    (b'{"text": "hi", "image": "/etc/passwd"}', "application/json", 400, "not base64"),
    (b'{"image": ""}', "application/json", 400, "text"),
    (b"text=hi", "text/plain", 415, "multipart/form-data"),
    (b"--x\r\nbroken", "multipart/form-data; boundary=x", 400, "text"),
])
def test_malformed_bodies_are_refused_without_reading_paths(client, body, kind, status, message):
    answer = client.post("/predict", content=body, headers={"content-type": kind})
    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"]
    assert "root:" not in answer.text


def test_image_pixel_limit_is_configurable(tiny_run):
    client = TestClient(create_app(Explainer(Predictor(tiny_run), Limits(max_pixels=1000))))
    answer = post(client, image=jpeg(size=(40, 32)))
    assert answer.status_code == 400 and "exceeds the limit of 1000" in answer.json()["error"]


def test_aspect_model_needs_the_aspect(tiny_aspect_run):
    client = TestClient(load_app(tiny_aspect_run))
    assert client.get("/health").json()["model"]["uses_aspect"]
    missing = post(client)
    assert missing.status_code == 400 and "give the aspect" in missing.json()["error"]
    answer = post(client, aspect="sunny")
    assert answer.status_code == 200 and answer.json()["words"][-1]["text"] == "sunny"


def test_text_only_model_answers_without_image_maps(tiny_text_run):
    client = TestClient(load_app(tiny_text_run))
    assert not client.get("/health").json()["model"]["needs_image"]
    result = client.post("/predict", json={"text": TEXT}).json()
    assert result["image"] is None and result["fusion"] is None
    assert [word["text"] for word in result["words"]] == TEXT.split()
    assert all(word["pooling"] is None for word in result["words"])  # a CLS pooler has no weights
    assert sum(result["probabilities"].values()) == pytest.approx(1, abs=1e-3)


class SlowExplainer:
    """Stands in for the model: answers after ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __call__(self, text, image, aspect):
        time.sleep(self.seconds)
        return {"label": "x", "probabilities": {"x": 1.0}, "words": [], "image": None, "fusion": None}

    def describe(self):
        return {}


def test_full_queue_answers_503_and_recovers():
    app = create_app(SlowExplainer(0.3), queue_size=2)

    async def burst() -> list[int]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            answers = await asyncio.gather(*[http.post("/predict", json={"text": "hi"}) for _ in range(5)])
            again = await http.post("/predict", json={"text": "hi"})
        assert all("busy" in a.json()["error"] for a in answers if a.status_code == 503)
        return sorted(a.status_code for a in answers) + [again.status_code]

    assert asyncio.run(burst()) == [200, 200, 503, 503, 503, 200]


def test_api_docs_describe_predict(client):
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/predict"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= set(body)
    assert "fusion" in schema["components"]["schemas"]["Prediction"]["properties"]
    assert client.get("/docs").status_code == 200


def test_page_is_served_and_self_contained(client):
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    assert client.get("/static/app.js").status_code == 200
    for asset in ("index.html", "app.js", "style.css"):
        text = (STATIC / asset).read_text()
        assert "http://" not in text and "https://" not in text, f"{asset} loads something from the network"
    assert client.get("/static/../../serve/app.py").status_code == 404


def test_runs_are_found_by_folder_checkpoint_or_preset_name(tiny_run, tmp_path, monkeypatch):
    assert find_run(tiny_run) == tiny_run
    assert find_run(tiny_run / "checkpoint") == tiny_run
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "mine").symlink_to(tiny_run)
    monkeypatch.chdir(tmp_path)
    assert find_run("mine") == Path("runs/mine")
    with pytest.raises(FileNotFoundError, match="make demo"):
        find_run("nothing_here")


def test_cli_serve_names_a_missing_run(tmp_path, capsys):
    assert main(["serve", str(tmp_path / "missing")]) == 2
    assert "no trained run there" in capsys.readouterr().err
