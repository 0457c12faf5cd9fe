"""The toolkit's library does not reach up into the CLI: only the entry points (``toolkit/cli.py``,
``toolkit/commands/`` and ``toolkit/demo.py``) may import ``toolkit.cli`` or ``toolkit.commands``."""

from __future__ import annotations

import ast
from pathlib import Path

TOOLKIT = Path(__file__).resolve().parent.parent / "toolkit"
CLI_MODULES = ("toolkit.cli", "toolkit.commands")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_the_library_does_not_import_the_cli() -> None:
    entry_points = {TOOLKIT / "cli.py", TOOLKIT / "demo.py"}
    library = [p for p in TOOLKIT.rglob("*.py")
               if p not in entry_points and "commands" not in p.relative_to(TOOLKIT).parts]
    assert len(library) > 10
    leaks = {str(p.relative_to(TOOLKIT)): sorted(n for n in _imports(p) if n.startswith(CLI_MODULES))
             for p in library}
    assert {k: v for k, v in leaks.items() if v} == {}
