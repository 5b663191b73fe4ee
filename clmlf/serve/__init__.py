"""``clmlf serve``: a local web page and JSON API showing a trained model's label, probabilities and attention maps.

Needs the ``serve`` extra (FastAPI, uvicorn, python-multipart): ``pip install "clmlf[serve]"``. See docs/serve.md.
"""
