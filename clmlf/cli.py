"""The ``clmlf`` command line: train / evaluate / predict, ablate / visualize, validate, presets, components, schema,
dataset-info."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from clmlf.errors import ContractError, PluginError
from clmlf.experiments.shards import parse_shard
from clmlf.registry import RegistryError

COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {}


def command(name: str, help: str, arguments: Callable[[argparse.ArgumentParser], None] = lambda parser: None):
    """Register ``function(args) -> exit code`` as a sub-command."""

    def decorator(function: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = (help, arguments, function)
        return function

    return decorator


def config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="YAML experiment config: a path, or a preset name such as tiny (`clmlf presets`)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value by dotted key (repeatable), e.g. --set model.fusion.num_layers=2")


def validate_arguments(parser: argparse.ArgumentParser) -> None:
    config_arguments(parser)
    parser.add_argument("--schema-only", action="store_true",
                        help="check the config against the schema only: do not build the model (random weights) and "
                             "run two short posts through it")


@command("validate", "check a config (and that its model builds and runs) and print the resolved spec", validate_arguments)
def validate(args: argparse.Namespace) -> int:
    from clmlf.compat import check_runnable
    from clmlf.spec import load_spec

    spec = load_spec(args.config, args.overrides)
    if not args.schema_only:
        check_runnable(spec, args.config)
    print(json.dumps(spec.model_dump(mode="json"), indent=2))
    print(f"{args.config}: OK", file=sys.stderr)
    return 0


def components_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", default=None, help="only this kind (text_encoder, image_encoder, fusion, ...)")
    parser.add_argument("--pattern", default="*", help="fnmatch filter on names, e.g. 'efficient*'")


@command("components", "list registered components (built-ins and plugins)", components_arguments)
def components(args: argparse.Namespace) -> int:
    from clmlf.registry import registry

    reg = registry()
    for kind, names in reg.list(args.kind, args.pattern).items():
        print(f"{kind}:")
        for name in names:
            print(f"  {name:<22} {reg.entry(kind, name).module}")
    return 0


@command("presets", "list the preset configs shipped with clmlf, one line each (pass a name as a config)")
def presets(args: argparse.Namespace) -> int:
    from clmlf.presets import preset_description, preset_files

    for name, file in preset_files().items():
        print(f"{name:<24} {preset_description(file)}")
    return 0


@command("schema", "print the JSON Schema of experiment configs (plugins included)")
def schema(args: argparse.Namespace) -> int:
    from clmlf.spec import ExperimentSpec

    print(json.dumps(ExperimentSpec.model_json_schema(), indent=2))
    return 0


def train_arguments(parser: argparse.ArgumentParser) -> None:
    config_arguments(parser)
    parser.add_argument("--out", default=None, help="run directory (default: runs/<config name>)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its last finished epoch (only train.epochs and settings of "
                             "how it runs, e.g. train.device or data.num_workers, may change)")
    parser.add_argument("--overwrite", action="store_true", help="replace a run already in --out (default: refuse)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


@command("train", "train and evaluate a model; writes a run directory", train_arguments)
def train(args: argparse.Namespace) -> int:
    from clmlf.compat import check_runnable
    from clmlf.spec import load_spec
    from clmlf.train.distributed import is_main_process
    from clmlf.train.run_lock import ensure_free
    from clmlf.train.trainer import train as run_training

    if args.resume and args.overwrite:
        raise ValueError("--resume continues the run in --out and --overwrite replaces it: pass one of them")
    spec = load_spec(args.config, args.overrides)
    out = args.out or f"runs/{spec.name}"
    if is_main_process():
        ensure_free(Path(out))  # a run in use is refused before the model is built
    check_runnable(spec, args.config)
    metrics = run_training(spec, out, resume=args.resume, progress=not args.no_progress, overwrite=args.overwrite)
    if not is_main_process():  # torchrun: rank 0 reports
        return 0
    test = metrics["test"]
    print(json.dumps({"run": out, "best_epoch": metrics["best_epoch"], "test": test, "wall_s": round(metrics["wall_s"], 1)}))
    return 0


def evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="a run directory made by `clmlf train`")
    parser.add_argument("--split", default="test", choices=["train", "dev", "test"])
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override data settings or how evaluation runs, e.g. --set data.root=/data, --set train.device=cpu")


@command("evaluate", "evaluate a run's best checkpoint on a split; prints metrics JSON", evaluate_arguments)
def evaluate(args: argparse.Namespace) -> int:
    from clmlf.train.commands import evaluate_run

    print(json.dumps(evaluate_run(args.run_dir, args.split, args.overrides)))
    return 0


def predict_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="a run directory made by `clmlf train`")
    parser.add_argument("--text", help="the post's text")
    parser.add_argument("--image", help="path of the post's image")
    parser.add_argument("--aspect", help="aspect term (aspect datasets)")
    parser.add_argument("--jsonl", help='batch mode: a JSONL file of {"text", "image", "aspect"} objects ("-" = stdin)')
    parser.add_argument("--batch-size", type=int, default=32, help="with --jsonl: posts per forward pass (default 32)")


@command("predict", "predict labels for new posts; prints one JSON line per post", predict_arguments)
def predict(args: argparse.Namespace) -> int:
    from clmlf.train.commands import predict_lines

    for line in predict_lines(args.run_dir, args.text, args.image, args.aspect, args.jsonl, args.batch_size):
        print(line, flush=True)
    return 0


def dataset_info_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="mvsa_single, mvsa_multiple, hfm, twitter2015, twitter2017 (or a plugin dataset), "
                                     "or a config file (YAML/JSON) or preset whose data.dataset to read (a jsonl dataset, say)")
    parser.add_argument("--root", default=None, help="data root (default: CLMLF_DATA_DIR, then a shared/data folder found upwards from here)")


@command("dataset-info", "print split sizes and train class counts as JSON", dataset_info_arguments)
def dataset_info(args: argparse.Namespace) -> int:
    from clmlf.presets import preset_files
    from clmlf.registry import registry
    from clmlf.spec import load_spec, validate_spec
    from clmlf.train.pipeline import build_splits

    reg = registry()
    if Path(args.name).is_file() or (args.name not in reg.names("dataset") and args.name in preset_files()):
        data = load_spec(args.name).data
        if data is None:
            raise ValueError(f"{args.name} has no data section: nothing to describe")
        spec, root = data.dataset, args.root or data.root
    else:
        spec, root = validate_spec(reg.entry("dataset", args.name).spec, {"type": args.name}, f"dataset {args.name!r}"), args.root
    print(json.dumps(build_splits(spec, root).info()))
    return 0


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def ablate_arguments(parser: argparse.ArgumentParser) -> None:
    config_arguments(parser)
    parser.add_argument("--seeds", type=positive_int, required=True, metavar="K", help="runs per row, seeds train.seed + 0..K-1")
    parser.add_argument("--out", default=None, help="experiment directory (default: runs/<config name>_ablation or _sweep_<name>)")
    parser.add_argument("--rows", default=None, metavar="NAME,NAME",
                        help="rows to run (default: the ladder that fits the dataset): text_only, image_only, late_fusion, "
                             "mlf, mlf_lbcl, mlf_dbcl, clmlf; without images: text_only, text_lbcl, text_dbcl, text_lbcl_dbcl")
    parser.add_argument("--sweep", default=None, metavar="NAME=A..B",
                        help="sweep one value of the base config instead: fusion_layers=1..6, image_layers=1..3, or KEY=V1,V2")
    parser.add_argument("--shard", default=None, metavar="I/N", type=parse_shard,
                        help="train only every N-th run, from the I-th (N processes or machines sharing --out); then "
                             "the same command without --shard writes the summary")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


@command("ablate", "train the ablation ladder (paper Table 3) or a layer sweep (Fig. 3) over K seeds", ablate_arguments)
def ablate(args: argparse.Namespace) -> int:
    """Each run directory is locked while it trains; without --shard the experiment folder too (one summary writer)."""
    from functools import partial

    from clmlf.compat import check_runnable
    from clmlf.spec import load_spec
    from clmlf.train.run_lock import run_lock

    base = load_spec(args.config, args.overrides)
    check_runnable(base, args.config)
    progress = not args.no_progress
    if args.sweep is not None:
        from clmlf.experiments.sweep import parse_sweep, run_sweep, sweep_runs

        if args.rows is not None:
            raise ValueError("--rows and --sweep don't combine: a sweep varies the base config itself")
        sweep = parse_sweep(args.sweep, base)
        out = Path(args.out or f"runs/{base.name}_sweep_{sweep.name}")
        if args.shard is not None:
            return print_shard(out, args.shard, sweep_runs(base, sweep, out, args.seeds), progress)
        run_all, listed = partial(run_sweep, base, sweep, out, args.seeds, progress), "points"
    else:
        from clmlf.experiments.ablation import ablate as run_ablation
        from clmlf.experiments.ablation import ablation_runs

        out = Path(args.out or f"runs/{base.name}_ablation")
        rows = [name.strip() for name in args.rows.split(",") if name.strip()] if args.rows is not None else None
        if args.shard is not None:
            return print_shard(out, args.shard, ablation_runs(base, out, args.seeds, rows), progress)
        run_all, listed = partial(run_ablation, base, out, args.seeds, rows, progress), "rows"
    out.mkdir(parents=True, exist_ok=True)
    with run_lock(out):
        entries = run_all()[listed]
    keys = ("name", "value", "accuracy_mean", "accuracy_std", "f1_mean", "f1_std")
    print(json.dumps({"out": str(out), "results": [{key: entry[key] for key in keys if key in entry} for entry in entries]}))
    return 0


def print_shard(out, shard, runs, progress: bool) -> int:
    """Train one shard's runs (``clmlf ablate --shard``) and print them as JSON."""
    from clmlf.experiments.shards import run_shard

    trained = run_shard(runs, shard, progress)
    print(json.dumps({"out": str(out), "shard": f"{shard.index}/{shard.count}", "runs": trained,
                      "next": "once every shard has finished, the same command without --shard writes the summary"}))
    return 0


def visualize_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="a finished run directory (clmlf train --out, or DIR/<row>/seed<k> of clmlf ablate)")
    parser.add_argument("--split", default="test", choices=["train", "dev", "test"])
    parser.add_argument("--n", type=positive_int, default=8, help="attention figures for the first N items with an image")
    parser.add_argument("--layer", type=int, default=-1, help="fusion layer of the attention maps (negative: from the last)")
    parser.add_argument("--head", type=int, default=0, help="attention head of the maps")
    parser.add_argument("--text-only", default=None, metavar="RUN_DIR2",
                        help="a text-only run to compare with (default: ../../text_only/seed<k> in an ablate layout)")
    parser.add_argument("--out", default=None, help="output folder (default: RUN_DIR/figures)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


@command("visualize", "attention maps, t-SNE of pooled representations and a case study of a run", visualize_arguments)
def visualize(args: argparse.Namespace) -> int:
    from clmlf.experiments.visualize import visualize as draw

    written = draw(args.run_dir, args.split, args.n, args.layer, args.head, args.text_only, args.out, not args.no_progress)
    print(json.dumps({"written": [str(path) for path in written]}))
    return 0


def serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN", help="a run directory (clmlf train --out), its checkpoint folder, or a preset name whose "
                                    "run is in runs/ (e.g. mvsa_single_demo)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--max-upload-mb", type=float, default=10, help="largest request body accepted (413 beyond)")
    parser.add_argument("--queue", type=positive_int, default=16, help="posts waiting for the model at most (503 beyond)")
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto")


@command("serve", "a local web page and JSON API: label, probabilities and attention maps of new posts", serve_arguments)
def serve(args: argparse.Namespace) -> int:
    from clmlf.serve.server import serve as run_server

    try:
        run_server(args.run_dir, args.host, args.port, args.max_upload_mb, args.queue, args.device)
    except ImportError as error:  # the serve extra is not installed: the message says how to install it
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def parser() -> argparse.ArgumentParser:
    from clmlf import __version__

    root = argparse.ArgumentParser(prog="clmlf", description="CLMLF multimodal sentiment: configs, training, evaluation.")
    root.add_argument("--version", action="version", version=f"clmlf {__version__}")
    sub = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, arguments, function) in COMMANDS.items():
        child = sub.add_parser(name, help=help_text, description=help_text)
        arguments(child)
        child.set_defaults(run=function)
    return root


INTERRUPT_HINTS = {
    "train": ": every finished epoch is saved; the same command with --resume continues from the last one",
    "ablate": ": finished runs are kept; the same command continues (an unfinished run from its last finished epoch)",
}


def main(argv: list[str] | None = None) -> int:
    import logging

    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return args.run(args)
    except (ValueError, ContractError, RegistryError, PluginError, FileNotFoundError, FileExistsError) as error:  # SpecError, DataError are ValueErrors
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted{INTERRUPT_HINTS.get(args.command, '')}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`clmlf validate ... | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the exit-time flush has nowhere to fail
        return 1
    except OSError as error:  # a full disk, a read-only or forbidden folder: path, cause and what to do
        from clmlf.storage import describe

        print(f"error: {describe(error)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
