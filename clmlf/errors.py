"""Library exceptions with messages meant for people (no traceback noise needed to act on them)."""

from __future__ import annotations


class SpecError(ValueError):
    """An invalid config. ``problems`` holds one ``"dotted.path: message"`` line per problem, all at once."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = list(problems)
        count = f"{len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}"
        super().__init__(f"{source}: {count}\n" + "\n".join(f"  - {line}" for line in self.problems))


class PluginError(RuntimeError):
    """A plugin distribution failed to load or to register its components."""
