"""Contract checks for component authors: does a registered component honour the contract of its kind?

>>> from clmlf.testing import check_component
>>> check_component("text_encoder", {"type": "gru", "vocab_size": 500}, train_steps=2)

builds the component through the registry, runs it on tiny inputs suited to its kind, checks types, shapes, masks,
finite values and gradients, round-trips it through ``save_pretrained`` / ``from_pretrained`` inside a tiny CLMLF and,
with ``train_steps``, trains a few steps on synthetic posts (:func:`write_posts`). A failure is an ``AssertionError``
whose message names the component and what to fix. The contract of every kind is documented in ``docs/components.md``.
"""

from clmlf.testing.check import check_component
from clmlf.testing.posts import write_posts

__all__ = ["check_component", "write_posts"]
