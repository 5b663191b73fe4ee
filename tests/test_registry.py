from typing import Literal

import pytest
from torch import nn

import clmlf
from clmlf.registry import Registry, RegistryError
from clmlf.spec import ComponentSpec


class DummySpec(ComponentSpec):
    type: Literal["dummy"] = "dummy"
    width: int = 4


class Dummy(nn.Module):
    def __init__(self, width: int = 4) -> None:
        super().__init__()
        self.width = width


def test_register_get_list_and_build():
    registry = Registry()
    registry.register("pooler", "dummy", spec=DummySpec)(Dummy)
    assert registry.entry("pooler", "dummy").component is Dummy
    assert registry.list("pooler") == {"pooler": ["dummy"]}
    assert registry.list("pooler", pattern="x*") == {"pooler": []}


def test_duplicate_name_names_both_modules_and_override_allows_it():
    registry = Registry()
    registry.add("pooler", "dummy", Dummy, DummySpec)

    class Other(nn.Module):
        pass

    with pytest.raises(RegistryError) as error:
        registry.add("pooler", "dummy", Other, DummySpec)
    assert str(error.value).count(__name__) == 2 and "override=True" in str(error.value)
    registry.add("pooler", "dummy", Other, DummySpec, override=True)
    assert registry.entry("pooler", "dummy").component is Other


def test_unknown_names_list_known_and_suggest():
    with pytest.raises(RegistryError, match=r"known pooler names: attention, cls, mean\. Did you mean 'attention'\?"):
        clmlf.get_component("pooler", "atention")
    with pytest.raises(RegistryError, match="Did you mean 'fusion'"):
        clmlf.get_component("fusoin", "transformer")


def test_spec_type_must_match_name():
    with pytest.raises(RegistryError, match="must declare `type: Literal\\['other'\\]"):
        Registry().add("pooler", "other", Dummy, DummySpec)


def test_builtins_cover_every_kind_of_the_core():
    listed = clmlf.list_components()
    for kind in ("text_encoder", "image_encoder", "image_transformer", "fusion", "pooler", "head", "projection", "formatter"):
        assert listed[kind], kind
    assert clmlf.list_components("image_encoder", pattern="*resnet*") == {"image_encoder": ["torchvision_resnet"]}


def test_spec_must_be_a_component_spec_class():
    with pytest.raises(RegistryError, match=r"spec for pooler/dummy must be a subclass of clmlf.ComponentSpec; got <class 'dict'>"):
        Registry().add("pooler", "dummy", Dummy, dict)


@pytest.mark.parametrize("kind, name", [("head", "mlp"), ("pooler", "attention"), ("projection", "mlp")])
def test_a_spec_built_alone_leaves_unset_shared_sizes_to_the_component(kind, name):
    """d_model / num_classes stay None until a ModelSpec fills them; built alone, the component's default applies
    (passing None used to fail inside the constructor: ``NoneType // int``)."""
    from clmlf.registry import get_spec_class

    spec = get_spec_class(kind, name)()
    built, default = spec.build(), clmlf.get_component(kind, name)()
    assert [p.shape for p in built.parameters()] == [p.shape for p in default.parameters()]
    assert spec.build(d_model=8) is not None  # an override still wins


def test_import_strings_resolve_on_first_use_and_name_themselves_when_broken():
    registry = Registry()
    registry.add("pooler", "dummy", f"{__name__}:Dummy", f"{__name__}:DummySpec")
    entry = registry.entry("pooler", "dummy")
    assert entry.module == __name__ and entry.component is Dummy and entry.spec is DummySpec
    assert DummySpec.component_kind == "pooler"
    registry.add("pooler", "gone", "clmlf_no_such_package.pooling:Gone", "clmlf_no_such_package.pooling:GoneSpec")
    assert registry.names("pooler") == ["dummy", "gone"], "listing imports nothing"
    with pytest.raises(RegistryError, match=r"^pooler 'gone': cannot import 'clmlf_no_such_package.pooling:Gone' "
                                            r"\(ModuleNotFoundError: No module named 'clmlf_no_such_package'\)"):
        registry.entry("pooler", "gone").component
    registry.add("pooler", "odd", f"{__name__}:Dummy", f"{__name__}:Dummy")
    with pytest.raises(RegistryError, match="spec for pooler/odd must be a subclass of clmlf.ComponentSpec"):
        registry.entry("pooler", "odd").spec
    with pytest.raises(RegistryError, match=r"component for pooler/bad must be an object or a 'package.module:attribute' string"):
        registry.add("pooler", "bad", "no_colon_here", DummySpec)


def test_a_string_and_the_object_it_names_are_the_same_registration():
    registry = Registry()
    registry.add("pooler", "dummy", f"{__name__}:Dummy", f"{__name__}:DummySpec")
    registry.add("pooler", "dummy", Dummy, DummySpec)  # no clash: the same component
    assert registry.kind_of(DummySpec) == "pooler"


def test_builtins_register_through_the_hook_and_listing_imports_no_component(tmp_path):
    """In a fresh process: the built-ins are a plugin of the manager, listing imports no component module, and a
    built-in spec constructed directly (before any lookup) still builds."""
    import subprocess
    import sys

    script = (
        "import sys, clmlf\n"
        "from clmlf.plugins import plugin_manager\n"
        "names = clmlf.list_components()\n"
        "print(plugin_manager().get_plugin('clmlf.builtins').__name__, len(names['dataset']))\n"
        "print(sorted(m for m in sys.modules if m.startswith(('clmlf.encoders', 'clmlf.fusion', 'clmlf.heads', 'clmlf.data'))))\n"
        "from clmlf.heads.classifier import MLPClassifierSpec\n"
        "print(type(MLPClassifierSpec(d_model=8, num_classes=2).build()).__name__, MLPClassifierSpec.component_kind)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            env={**__import__("os").environ, "CLMLF_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["clmlf.builtins 6", "[]", "MLPClassifier head"]


def test_a_spec_nobody_registered_is_named():
    class StraySpec(ComponentSpec):
        type: Literal["stray"] = "stray"

    with pytest.raises(RegistryError, match=r"StraySpec \(type 'stray'\) is not a registered spec"):
        StraySpec().build()
