"""The concept map at the top of sfn_runtime names every module of the runtime."""

from __future__ import annotations

from pathlib import Path

import sfn_runtime

PACKAGE = Path(sfn_runtime.__file__).parent


def test_every_module_is_on_the_concept_map() -> None:
    doc = sfn_runtime.__doc__ or ""
    modules = sorted(p.stem for p in PACKAGE.rglob("*.py") if p.stem != "__init__")
    missing = [name for name in modules if f"``{name}``" not in doc and f".{name}``" not in doc]
    assert not missing, f"modules missing from sfn_runtime's concept map: {missing}"
