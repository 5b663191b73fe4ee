"""Plugins through a real installed distribution, the example package in examples/plugin (pip-installed into a
scratch target), run in subprocesses so that the test process's registry stays untouched."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import REPO, TINY_CONFIG, has_real_data

EXAMPLE = REPO / "examples" / "plugin"
PLUGIN_MODEL = {  # the tiny config's model with the plugin's text encoder, image encoder and pooler
    "text_encoder": {"type": "gru", "vocab_size": 2000, "max_length": 48},
    "image_encoder": {"type": "small_cnn", "channels": 8},
    "pooler": {"type": "max"},
}


def plugin_config(folder: Path, **sections) -> Path:
    """configs/tiny.yaml with the plugin's model parts (and ``sections`` replacing top-level keys), as YAML."""
    data = yaml.safe_load(TINY_CONFIG.read_text())
    data["model"].update(PLUGIN_MODEL)
    data.update(sections)
    path = folder / "plugin.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def run(args: list[str], site: Path, timeout: int = 300, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
                   "OMP_NUM_THREADS": "1", **env}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=environment, timeout=timeout, cwd=REPO)


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory) -> Path:
    """pip-install the example plugin (no deps, no network) into a scratch site directory."""
    source = tmp_path_factory.mktemp("src") / "plugin"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
    site = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(site), str(source)],
        check=True, capture_output=True, timeout=300,
    )
    assert list(site.glob("clmlf_example_plugin-0.1.0.dist-info/entry_points.txt"))
    return site


def test_installed_plugin_parts_are_usable_from_yaml(plugin_site, tmp_path):
    config = plugin_config(tmp_path)
    validated = run(["-m", "clmlf", "validate", str(config)], plugin_site)
    assert validated.returncode == 0, validated.stderr
    assert json.loads(validated.stdout)["model"]["text_encoder"] == {"type": "gru", "vocab_size": 2000, "max_length": 48,
                                                                      "num_layers": 1, "d_model": 32}
    script = (
        "import torch, clmlf\n"
        f"model = clmlf.build_model({str(config)!r}).eval()\n"
        "batch = model.text_encoder.tokenizer()(['a sunny day', 'rain'], None, padding=True, max_length=48, return_tensors='pt')\n"
        "out = model(batch['input_ids'], batch['attention_mask'], torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8))\n"
        "print(type(model.text_encoder).__module__, type(model.image_encoder).__name__, type(model.pooler).__name__, tuple(out.logits.shape))\n"
    )
    built = run(["-c", script], plugin_site)
    assert built.returncode == 0, built.stderr
    assert built.stdout.split() == ["clmlf_example_plugin.text", "SmallCNNEncoder", "MaxPooler", "(2,", "3)"]
    listed = run(["-m", "clmlf", "components", "--pattern", "[gs]*"], plugin_site)
    assert "  gru                    clmlf_example_plugin.text\n" in listed.stdout
    assert "  small_cnn              clmlf_example_plugin.image\n" in listed.stdout


def test_the_schema_holds_every_plugin_spec(plugin_site):
    schema = run(["-m", "clmlf", "schema"], plugin_site)
    assert schema.returncode == 0, schema.stderr
    for name in ("gru", "small_cnn", "max", "confidence_penalty", "posts_csv"):
        assert f'"const": "{name}"' in schema.stdout, name


def test_the_plugin_test_suite_passes(plugin_site):
    """The example package's own tests (clmlf.testing.check_component on each component, with training steps)."""
    result = run(["-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")], plugin_site, PYTHONDONTWRITEBYTECODE="1")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "5 passed" in result.stdout


def test_plugin_spec_errors_keep_their_dotted_path(plugin_site, tmp_path):
    config = plugin_config(tmp_path)
    config.write_text(config.read_text().replace("vocab_size: 2000", "vocab_size: many\n    colour: red"))
    result = run(["-m", "clmlf", "validate", str(config)], plugin_site)
    assert result.returncode == 2
    assert "model.text_encoder.vocab_size: input should be a valid integer" in result.stderr
    assert "model.text_encoder.colour: extra inputs are not permitted" in result.stderr


def test_autoload_can_be_disabled(plugin_site, tmp_path):
    result = run(["-m", "clmlf", "validate", str(plugin_config(tmp_path))], plugin_site, CLMLF_DISABLE_PLUGIN_AUTOLOAD="1")
    assert result.returncode == 2 and "unknown text_encoder 'gru'" in result.stderr


def fake_distribution(folder: Path, name: str, module_source: str) -> None:
    """A hand-made installed distribution ``name`` 1.2 whose ``clmlf`` entry point is the module ``module_source``."""
    module = name.replace("-", "_")
    dist_info = folder / f"{module}-1.2.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.2\n")
    (dist_info / "entry_points.txt").write_text(f"[clmlf]\nplugin = {module}\n")
    (folder / f"{module}.py").write_text(module_source)


def test_broken_plugin_error_names_its_distribution(tmp_path):
    fake_distribution(tmp_path, "broken-clmlf-plugin", "raise ImportError('needs libfoo')\n")
    result = run(["-m", "clmlf", "components"], tmp_path)
    assert result.returncode == 2
    assert "broken-clmlf-plugin 1.2" in result.stderr and "needs libfoo" in result.stderr
    assert "CLMLF_DISABLE_PLUGIN_AUTOLOAD=1" in result.stderr and "Traceback" not in result.stderr


def test_a_plugin_taking_a_builtin_name_is_named_with_both_providers(tmp_path):
    fake_distribution(tmp_path, "clashing-plugin", (
        "from clmlf import hookimpl\n\n"
        "@hookimpl\n"
        "def clmlf_register(registry):\n"
        "    registry.add('pooler', 'mean', 'clashing_plugin:MeanPooler', 'clashing_plugin:MeanSpec')\n"))
    result = run(["-m", "clmlf", "components"], tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert ("clmlf plugin from distribution clashing-plugin 1.2 failed in clmlf_register: RegistryError: pooler 'mean' is "
            "already registered by clmlf.heads.pooling_mean:MeanPooling; clashing_plugin:MeanPooler tries to register it "
            "again.") in result.stderr


def write_csv_posts(folder: Path) -> Path:
    """The plugin dataset's files: three CSV splits with images (generated JPEGs)."""
    from clmlf.testing import write_posts

    write_posts(folder, sizes=(9, 3, 3))
    for split in ("train", "dev", "test"):
        posts = [json.loads(line) for line in (folder / f"{split}.jsonl").read_text().splitlines()]
        rows = ["text,label,image"] + [f"{post['text']},{post['label']},{post['image']}" for post in posts]
        (folder / f"{split}.csv").write_text("\n".join(rows) + "\n")
    return folder


@pytest.mark.integration
def test_plugin_end_to_end_on_real_posts(plugin_site, tmp_path):
    """With the plugin's text encoder, image encoder, pooler and loss term on 16 real MVSA-Single posts: components,
    validate, schema, train, evaluate, predict, from_pretrained, --resume after a killed run, torchrun on gloo; then the
    plugin's dataset through dataset-info and validate."""
    if not has_real_data():
        pytest.skip("real data (CLMLF_DATA_DIR) absent")
    config = plugin_config(
        tmp_path,
        data={"dataset": {"type": "mvsa_single", "max_train": 16, "max_eval": 8}, "augmentation": {"type": "randaugment"},
              "image_size": 32},
        train={"epochs": 3, "batch_size": 8, "eval_batch_size": 8, "lr": 1.0e-3, "seed": 7, "device": "cpu"},
        losses=[{"type": "cross_entropy"}, {"type": "lbcl", "weight": 1.0}, {"type": "dbcl", "weight": 1.0},
                {"type": "confidence_penalty", "weight": 0.1}],
    )
    clmlf = lambda *args, **options: run(["-m", "clmlf", *map(str, args)], plugin_site, **options)  # noqa: E731
    for args in (["components", "--kind", "loss"], ["validate", config], ["schema"]):
        result = clmlf(*args)
        assert result.returncode == 0, result.stderr[-2000:]
        assert "confidence_penalty" in result.stdout, args

    straight = tmp_path / "straight"
    result = clmlf("train", config, "--out", straight, "--no-progress")
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((straight / "metrics.json").read_text())
    assert "confidence_penalty" in json.dumps(metrics["epochs"][0]["train"]), metrics["epochs"][0]["train"]

    evaluated = clmlf("evaluate", straight, "--split", "test")
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert json.loads(evaluated.stdout)["accuracy"] == metrics["test"]["accuracy"]
    image = write_csv_posts(tmp_path / "csv") / "images" / "test-0.jpg"
    predicted = clmlf("predict", straight, "--text", "what a great day", "--image", image)
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    assert json.loads(predicted.stdout)["label"] in metrics["label_names"]
    loaded = run(["-c", f"import clmlf; m = clmlf.CLMLF.from_pretrained({str(straight / 'checkpoint')!r}); "
                        "print(type(m.text_encoder).__name__, type(m.image_encoder).__name__, type(m.pooler).__name__)"], plugin_site)
    assert loaded.stdout.split() == ["GRUTextEncoder", "SmallCNNEncoder", "MaxPooler"], loaded.stderr[-2000:]

    resumed = tmp_path / "resumed"
    killed = subprocess.Popen([sys.executable, "-m", "clmlf", "train", str(config), "--out", str(resumed), "--no-progress"],
                              cwd=REPO, env={**os.environ, "PYTHONPATH": str(plugin_site), "OMP_NUM_THREADS": "1"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (resumed / "metrics.json").is_file() and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert len(json.loads((resumed / "metrics.json").read_text())["epochs"]) < 3, "killed before the last epoch"
    result = clmlf("train", config, "--out", resumed, "--resume", "--no-progress")
    assert result.returncode == 0, result.stderr[-3000:]
    again = json.loads((resumed / "metrics.json").read_text())
    assert [epoch["dev"] for epoch in again["epochs"]] == [epoch["dev"] for epoch in metrics["epochs"]]
    assert again["test"] == metrics["test"]

    command = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "clmlf", "train", str(config),
               "--out", str(tmp_path / "two"), "--set", "train.device=cpu", "--no-progress"]
    result = run(command, plugin_site)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((tmp_path / "two" / "metrics.json").read_text())["world_size"] == 2

    info = clmlf("dataset-info", "posts_csv", "--root", tmp_path / "csv")
    assert info.returncode == 0, info.stderr[-2000:]
    assert json.loads(info.stdout) == {"train": 9, "dev": 3, "test": 3, "classes": {"negative": 3, "neutral": 3, "positive": 3}}
    csv_config = plugin_config(tmp_path, data={"dataset": {"type": "posts_csv", "root": str(tmp_path / "csv")}, "image_size": 32})
    result = clmlf("validate", csv_config)
    assert result.returncode == 0 and json.loads(result.stdout)["data"]["dataset"]["type"] == "posts_csv", result.stderr
