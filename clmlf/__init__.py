"""clmlf: CLMLF (Contrastive Learning and Multi-Layer Fusion) for multimodal sentiment, as composable parts."""

__version__ = "0.1.0"

from clmlf.errors import ContractError, PluginError, SpecError
from clmlf.model import CLMLF, build_model
from clmlf.outputs import CLMLFOutput, EncoderOutput, PoolerOutput, TransformerOutput
from clmlf.plugins import hookimpl
from clmlf.registry import RegistryError, get_component, list_components, register
from clmlf.spec import ComponentSpec, ExperimentSpec, ModelSpec, load_spec

__all__ = [
    "CLMLF", "CLMLFOutput", "ComponentSpec", "ContractError", "EncoderOutput", "ExperimentSpec", "ModelSpec", "PluginError",
    "PoolerOutput", "RegistryError", "SpecError", "TransformerOutput", "build_model", "get_component", "hookimpl",
    "list_components", "load_spec", "register", "__version__",
]
