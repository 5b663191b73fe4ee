"""Datasets, samples, image loading and image views."""

from clmlf.data.errors import BadImageError, DataError  # noqa: F401
from clmlf.data.images import ImageCheck, check_images, load_image  # noqa: F401
from clmlf.data.jsonl_dataset import jsonl_dataset  # noqa: F401
from clmlf.data.readers import hfm, load_dataset, mvsa_multiple, mvsa_single, twitter2015, twitter2017  # noqa: F401
from clmlf.data.root import find_dataset_dir, resolve_data_root  # noqa: F401
from clmlf.data.samples import DatasetSplits, Sample, stratified_subset  # noqa: F401
from clmlf.data.views import TwoViews, eval_transform, train_transform  # noqa: F401

