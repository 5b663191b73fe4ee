"""The ASGI app of ``clmlf serve``: the page (``/``), ``POST /predict``, ``GET /health`` and FastAPI's API docs
(``/docs``, ``/openapi.json``).

Every error is a JSON ``{"error": message}`` with a 4xx status (a 5xx only for a bug, logged). Bodies are read up to
``max_upload_bytes`` (413 past it); model calls go through one worker thread behind a queue of ``queue_size``
waiting posts (503 when it is full), so memory stays bounded however many clients post at once.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from clmlf.serve.explain import BadPost, Explainer

logger = logging.getLogger("clmlf")
STATIC = files("clmlf.serve") / "static"


class ServeError(Exception):
    """An answer other than 200: ``status`` and a message the page shows."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class PostJSON(BaseModel):
    """``POST /predict`` as JSON (multipart/form-data takes the same fields, ``image`` as a file)."""

    text: str = Field(description="the post's text")
    aspect: str | None = Field(None, description="the aspect term (aspect models only)")
    image: str | None = Field(None, description="the image file, base64-encoded (models with an image encoder)")


class Word(BaseModel):
    text: str = Field(description="a word of the post (word pieces joined)")
    pooling: float | None = Field(description="attention-pooling weight of the word's tokens (None: no attention pooler)")


class ImageMaps(BaseModel):
    src: str = Field(description="the image as the model saw it (resized and cropped), a data:image/png URL")
    pooling: list[list[float]] | None = Field(description="attention-pooling weight of each image-grid cell (s x s)")
    pooling_other: float | None = Field(description="pooling weight of image tokens outside the grid (global token)")


class FusionMaps(BaseModel):
    layers: int
    heads: int
    maps: list[list[list[list[list[float]]]]] = Field(
        description="maps[layer][head][word]: the word's fusion attention on the image grid (s x s), paper Fig. 5")


class Prediction(BaseModel):
    label: str
    probabilities: dict[str, float]
    words: list[Word]
    image: ImageMaps | None = Field(description="None for a text-only model")
    fusion: FusionMaps | None = Field(description="None without image tokens or fusion Transformer layers")


class ErrorMessage(BaseModel):
    error: str


FORM_SCHEMA = {"type": "object", "required": ["text"], "properties": {
    "text": {"type": "string"}, "aspect": {"type": "string"}, "image": {"type": "string", "format": "binary"}}}
ERRORS = {status: {"model": ErrorMessage, "description": text} for status, text in (
    (400, "unusable post: empty or long text, missing or unreadable image, an aspect where none is read (or none given)"),
    (413, "body over the upload limit"), (415, "not JSON or a form"), (503, "queue full: retry shortly"))}


class ModelQueue:
    """One worker thread runs the model; at most ``size`` posts wait for it (:class:`ServeError` 503 beyond)."""

    def __init__(self, explainer: Explainer, size: int) -> None:
        self.explainer, self.size, self.waiting = explainer, size, 0
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clmlf-model")

    async def __call__(self, text: str, image: bytes | None, aspect: str | None) -> dict:
        if self.waiting >= self.size:
            raise ServeError(503, f"the server is busy ({self.size} posts waiting); retry in a moment")
        self.waiting += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.worker, self.explainer, text, image, aspect)
        except BadPost as error:
            raise ServeError(400, str(error)) from None
        finally:
            self.waiting -= 1


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes (a declared length is checked first)."""
    declared = request.headers.get("content-length", "")
    too_big = ServeError(413, f"the upload is over the limit of {limit / 1e6:g} MB: send a smaller image")
    if declared.isdigit() and int(declared) > limit:
        raise too_big
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


async def parse_post(request: Request, limit: int) -> tuple[str, bytes | None, str | None]:
    """(text, image bytes, aspect) from a JSON or multipart body."""
    body = await read_body(request, limit)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            post = PostJSON.model_validate(json.loads(body))
        except (ValueError, UnicodeDecodeError) as error:
            raise ServeError(400, f"the JSON body is not a post {{\"text\", \"image\" (base64), \"aspect\"}}: {error}") from None
        try:
            image = None if post.image is None else base64.b64decode(post.image, validate=True)
        except (binascii.Error, ValueError):
            raise ServeError(400, "\"image\" is not base64: encode the image file's bytes") from None
        return post.text, image, post.aspect
    if kind in ("multipart/form-data", "application/x-www-form-urlencoded"):  # a form without a file is the latter
        async def replay() -> dict:
            return {"type": "http.request", "body": body, "more_body": False}

        form = await Request(request.scope, replay).form(max_files=1, max_fields=4, max_part_size=limit)
        text, aspect, upload = form.get("text"), form.get("aspect"), form.get("image")
        if not isinstance(text, str):
            raise ServeError(400, "the form has no \"text\" field: type the post")
        if aspect is not None and not isinstance(aspect, str):
            raise ServeError(400, "\"aspect\" must be a text field, not a file")
        if isinstance(upload, str):
            raise ServeError(400, "\"image\" must be a file upload, not a text field")
        return text, None if upload is None else await upload.read(), aspect or None
    raise ServeError(415, f"send JSON or a form (multipart/form-data), not {kind or 'a body without a Content-Type'}")


def create_app(explainer: Explainer, max_upload_bytes: int = 10_000_000, queue_size: int = 16) -> FastAPI:
    """The app serving one loaded model (``explainer``); see the module docstring."""
    app = FastAPI(title="clmlf serve", version="1",
                  description="Predict the sentiment of a post (text, image, aspect) and see the model's attention.")
    queue = ModelQueue(explainer, queue_size)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.exception_handler(ServeError)
    async def serve_error(request: Request, error: ServeError) -> JSONResponse:
        headers = {"Retry-After": "1"} if error.status == 503 else None
        return JSONResponse({"error": error.message}, status_code=error.status, headers=headers)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        return JSONResponse({"error": str(error.detail)}, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": "; ".join(str(item.get("msg")) for item in error.errors())}, status_code=422)

    @app.exception_handler(Exception)
    async def bug(request: Request, error: Exception) -> JSONResponse:
        logger.exception("clmlf serve: unexpected error")
        return JSONResponse({"error": f"internal error ({type(error).__name__}); the server keeps running"}, status_code=500)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> Response:
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))

    @app.get("/health", summary="liveness and what the model reads")
    async def health() -> dict:
        return {"status": "ok", "model": explainer.describe(), "max_upload_bytes": max_upload_bytes}

    @app.post("/predict", response_model=Prediction, responses=ERRORS, summary="label, probabilities and attention maps",
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": PostJSON.model_json_schema()},
                  "multipart/form-data": {"schema": FORM_SCHEMA}}}})
    async def predict(request: Request) -> dict:
        return await queue(*await parse_post(request, max_upload_bytes))

    return app
