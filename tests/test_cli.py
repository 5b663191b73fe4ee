import json

from clmlf.cli import main
from conftest import TINY_CONFIG


def test_validate_prints_resolved_spec(capsys):
    assert main(["validate", str(TINY_CONFIG), "--set", "model.fusion.num_layers=4"]) == 0
    resolved = json.loads(capsys.readouterr().out)
    assert resolved["model"]["fusion"]["num_layers"] == 4 and resolved["model"]["pooler"]["d_model"] == 32


def test_validate_reports_every_problem_without_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY_CONFIG.read_text().replace("type: attention", "type: attn").replace("num_layers: 2", "num_layers: -1"))
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "2 problems" in err and "model.pooler.type: unknown pooler 'attn'" in err
    assert "model.fusion.num_layers: input should be greater than or equal to 0" in err and "Traceback" not in err


def test_components_and_schema(capsys):
    assert main(["components", "--kind", "image_encoder"]) == 0
    out = capsys.readouterr().out
    assert "efficientnet_lite0" in out and "torchvision_resnet" in out and "pooler" not in out
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    fusion = schema["$defs"]["ModelSpec"]["properties"]["fusion"]
    assert "transformer" in json.dumps(fusion)
