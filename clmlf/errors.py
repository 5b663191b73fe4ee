"""Library exceptions with messages meant for people (no traceback noise needed to act on them)."""

from __future__ import annotations

from collections.abc import Callable


class SpecError(ValueError):
    """An invalid config. ``problems`` holds one ``"dotted.path: message"`` line per problem, all at once."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = list(problems)
        count = f"{len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}"
        super().__init__(f"{source}: {count}\n" + "\n".join(f"  - {line}" for line in self.problems))


class PluginError(RuntimeError):
    """A plugin distribution failed to load or to register its components."""


class ContractError(TypeError):
    """A component that breaks its kind's contract (``docs/components.md``): a required member is missing or a call
    returned the wrong type. The message names the kind, the registered name, the class, the problem and the section
    of the docs that states the contract."""

    def __init__(self, kind: str, name: str | None, component: Callable, problem: str) -> None:
        """``component``: the class (or factory) of the offending component."""
        self.kind, self.name, self.component, self.problem = kind, name, component, problem
        registered = f" {name!r}" if name else ""
        super().__init__(f"{kind}{registered} ({component.__qualname__} from {component.__module__}): {problem}; "
                         f"the contract: docs/components.md#{kind}")
