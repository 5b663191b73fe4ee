"""Plugins through a real installed distribution exposing the ``clmlf`` entry point (pip-installed into a
scratch target), run in subprocesses so the test process's registry stays untouched."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

FIXTURE = Path(__file__).parent / "plugin_fixture"

PLUGIN_YAML = (REPO / "configs" / "tiny.yaml").read_text().replace(
    "type: minilm            # packaged tokenizer/vocabulary, random tiny weights\n"
    "    pretrained: false\n"
    "    max_length: 48\n"
    "    config_overrides: {hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64}\n",
    "type: demo_bow\n    vocab_size: 4000\n",
)


def run(args: list[str], site: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]), **env}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=environment, timeout=300)


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory) -> Path:
    """pip-install the fixture distribution (no deps, no network) into a scratch site directory."""
    source = tmp_path_factory.mktemp("src") / "plugin"
    shutil.copytree(FIXTURE, source)
    site = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(site), str(source)],
        check=True, capture_output=True, timeout=300,
    )
    assert list(site.glob("clmlf_demo_plugin-0.3.0.dist-info/entry_points.txt"))
    return site


def test_installed_plugin_encoder_is_usable_from_yaml(plugin_site, tmp_path):
    config = tmp_path / "plugin.yaml"
    config.write_text(PLUGIN_YAML)
    validated = run(["-m", "clmlf", "validate", str(config)], plugin_site)
    assert validated.returncode == 0, validated.stderr
    assert '"type": "demo_bow"' in validated.stdout and '"vocab_size": 4000' in validated.stdout
    script = (
        "import torch, clmlf\n"
        f"model = clmlf.build_model({str(config)!r}).eval()\n"
        "out = model(torch.randint(0, 4000, (2, 5)), torch.ones(2, 5, dtype=torch.long), torch.randn(2, 3, 64, 64))\n"
        "print(type(model.text_encoder).__module__, tuple(out.logits.shape))\n"
    )
    built = run(["-c", script], plugin_site)
    assert built.returncode == 0, built.stderr
    assert built.stdout.split() == ["clmlf_demo_plugin", "(2,", "3)"]
    listed = run(["-m", "clmlf", "components", "--kind", "text_encoder"], plugin_site)
    assert "demo_bow" in listed.stdout and "clmlf_demo_plugin" in listed.stdout
    schema = run(["-m", "clmlf", "schema"], plugin_site)
    assert schema.returncode == 0 and '"const": "demo_bow"' in schema.stdout


def test_plugin_spec_errors_keep_their_dotted_path(plugin_site, tmp_path):
    config = tmp_path / "plugin.yaml"
    config.write_text(PLUGIN_YAML.replace("vocab_size: 4000", "vocab_size: many\n    colour: red"))
    result = run(["-m", "clmlf", "validate", str(config)], plugin_site)
    assert result.returncode == 2
    assert "model.text_encoder.vocab_size: input should be a valid integer" in result.stderr
    assert "model.text_encoder.colour: extra inputs are not permitted" in result.stderr


def test_autoload_can_be_disabled(plugin_site, tmp_path):
    config = tmp_path / "plugin.yaml"
    config.write_text(PLUGIN_YAML)
    result = run(["-m", "clmlf", "validate", str(config)], plugin_site, CLMLF_DISABLE_PLUGIN_AUTOLOAD="1")
    assert result.returncode == 2 and "unknown text_encoder 'demo_bow'" in result.stderr


def test_broken_plugin_error_names_its_distribution(tmp_path):
    """A hand-made installed distribution whose entry point cannot be imported."""
    dist_info = tmp_path / "broken_clmlf_plugin-1.2.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-clmlf-plugin\nVersion: 1.2\n")
    (dist_info / "entry_points.txt").write_text("[clmlf]\nbroken = broken_clmlf_plugin\n")
    (tmp_path / "broken_clmlf_plugin.py").write_text("raise ImportError('needs libfoo')\n")
    result = run(["-m", "clmlf", "components"], tmp_path)
    assert result.returncode == 2
    assert "broken-clmlf-plugin 1.2" in result.stderr and "needs libfoo" in result.stderr
    assert "CLMLF_DISABLE_PLUGIN_AUTOLOAD=1" in result.stderr and "Traceback" not in result.stderr
