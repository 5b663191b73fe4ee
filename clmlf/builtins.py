"""The built-in components, registered through the same ``clmlf_register`` hook as any plugin (see
:mod:`clmlf.plugins`). Import strings keep this module light: a component's module is imported when the component
or its spec is first used, not when the registry is listed."""

from __future__ import annotations

from clmlf.plugins import hookimpl

BUILTINS: dict[str, dict[str, tuple[str, str]]] = {  # kind -> name -> (component, spec), as "module:attr"
    "text_encoder": {
        "hf": ("clmlf.encoders.text_hf:HFTextEncoder", "clmlf.encoders.text_hf:HFTextEncoderSpec"),
        "minilm": ("clmlf.encoders.text_offline:minilm_text_encoder", "clmlf.encoders.text_offline:MiniLMTextEncoderSpec"),
    },
    "image_encoder": {
        "timm": ("clmlf.encoders.image_timm:timm_image_encoder", "clmlf.encoders.image_timm:TimmImageEncoderSpec"),
        "torchvision_resnet": ("clmlf.encoders.image_resnet:torchvision_resnet_encoder",
                               "clmlf.encoders.image_resnet:TorchvisionResNetSpec"),
        "efficientnet_lite0": ("clmlf.encoders.image_offline:efficientnet_lite0_encoder",
                               "clmlf.encoders.image_offline:EfficientNetLite0Spec"),
    },
    "image_transformer": {
        "transformer": ("clmlf.fusion.image_transformer:ImageTransformerEncoder",
                        "clmlf.fusion.image_transformer:ImageTransformerSpec"),
    },
    "fusion": {
        "transformer": ("clmlf.fusion.fusion_encoder:FusionEncoder", "clmlf.fusion.fusion_encoder:FusionEncoderSpec"),
        "late": ("clmlf.fusion.late:LateFusion", "clmlf.fusion.late:LateFusionSpec"),
    },
    "pooler": {
        "attention": ("clmlf.heads.pooling_attention:AttentionPooling", "clmlf.heads.pooling_attention:AttentionPoolingSpec"),
        "cls": ("clmlf.heads.pooling_cls:CLSPooling", "clmlf.heads.pooling_cls:CLSPoolingSpec"),
        "mean": ("clmlf.heads.pooling_mean:MeanPooling", "clmlf.heads.pooling_mean:MeanPoolingSpec"),
    },
    "head": {"mlp": ("clmlf.heads.classifier:MLPClassifier", "clmlf.heads.classifier:MLPClassifierSpec")},
    "projection": {"mlp": ("clmlf.heads.projection:MLPProjection", "clmlf.heads.projection:MLPProjectionSpec")},
    "loss": {
        "cross_entropy": ("clmlf.losses.modules:CrossEntropyLoss", "clmlf.losses.modules:CrossEntropySpec"),
        "lbcl": ("clmlf.losses.modules:LBCLLoss", "clmlf.losses.modules:LBCLSpec"),
        "dbcl": ("clmlf.losses.modules:DBCLLoss", "clmlf.losses.modules:DBCLSpec"),
    },
    "formatter": {
        "sentence": ("clmlf.data.formatters:SentenceFormatter", "clmlf.data.formatters:SentenceFormatterSpec"),
        "aspect": ("clmlf.data.formatters:AspectFormatter", "clmlf.data.formatters:AspectFormatterSpec"),
    },
    "dataset": {
        "mvsa_single": ("clmlf.data.readers:mvsa_single", "clmlf.data.readers:MVSASingleSpec"),
        "mvsa_multiple": ("clmlf.data.readers:mvsa_multiple", "clmlf.data.readers:MVSAMultipleSpec"),
        "hfm": ("clmlf.data.readers:hfm", "clmlf.data.readers:HFMSpec"),
        "twitter2015": ("clmlf.data.readers:twitter2015", "clmlf.data.readers:Twitter2015Spec"),
        "twitter2017": ("clmlf.data.readers:twitter2017", "clmlf.data.readers:Twitter2017Spec"),
        "jsonl": ("clmlf.data.jsonl_dataset:jsonl_dataset", "clmlf.data.jsonl_dataset:JsonlDatasetSpec"),
    },
    "augmentation": {
        "none": ("clmlf.data.views:eval_transform", "clmlf.data.views:NoAugmentationSpec"),
        "randaugment": ("clmlf.data.views:train_transform", "clmlf.data.views:RandAugmentSpec"),
    },
}


@hookimpl
def clmlf_register(registry) -> None:
    for kind, components in BUILTINS.items():
        for name, (component, spec) in components.items():
            registry.add(kind, name, component, spec)
