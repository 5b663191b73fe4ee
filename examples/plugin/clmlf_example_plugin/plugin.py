"""The entry point (``[project.entry-points.clmlf] example = "clmlf_example_plugin.plugin"``): one hook that
registers every component by import string, so that listing clmlf's components imports none of them."""

from clmlf import hookimpl

COMPONENTS = {  # (kind, name): (component, spec)
    ("text_encoder", "gru"): ("clmlf_example_plugin.text:GRUTextEncoder", "clmlf_example_plugin.text:GRUTextEncoderSpec"),
    ("image_encoder", "small_cnn"): ("clmlf_example_plugin.image:SmallCNNEncoder", "clmlf_example_plugin.image:SmallCNNSpec"),
    ("pooler", "max"): ("clmlf_example_plugin.pooling:MaxPooler", "clmlf_example_plugin.pooling:MaxPoolerSpec"),
    ("loss", "confidence_penalty"): ("clmlf_example_plugin.loss:ConfidencePenalty",
                                     "clmlf_example_plugin.loss:ConfidencePenaltySpec"),
    ("dataset", "posts_csv"): ("clmlf_example_plugin.dataset:posts_csv", "clmlf_example_plugin.dataset:PostsCSVSpec"),
}


@hookimpl
def clmlf_register(registry):
    for (kind, name), (component, spec) in COMPONENTS.items():
        registry.add(kind, name, component, spec)
