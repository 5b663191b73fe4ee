"""The ``clmlf`` command line: ``validate``, ``components``, ``schema`` (training commands are added by later parts)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from clmlf.errors import PluginError, SpecError
from clmlf.registry import RegistryError

COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {}


def command(name: str, help: str, arguments: Callable[[argparse.ArgumentParser], None] = lambda parser: None):
    """Register ``function(args) -> exit code`` as a sub-command."""

    def decorator(function: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = (help, arguments, function)
        return function

    return decorator


def config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="YAML experiment config, e.g. configs/tiny.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value by dotted key (repeatable), e.g. --set model.fusion.num_layers=2")


@command("validate", "check a config and print the resolved spec", config_arguments)
def validate(args: argparse.Namespace) -> int:
    from clmlf.spec import load_spec

    spec = load_spec(args.config, args.overrides)
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


@command("schema", "print the JSON Schema of experiment configs (plugins included)")
def schema(args: argparse.Namespace) -> int:
    from clmlf.spec import ExperimentSpec

    print(json.dumps(ExperimentSpec.model_json_schema(), indent=2))
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


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except (SpecError, RegistryError, PluginError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
