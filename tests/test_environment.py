"""environment.yml (conda) and pyproject.toml (pip) must describe the same environment."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
NOT_PYTHON_PACKAGES = {"python", "openjdk", "pip"}


def _pip_requirements() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"]) + list(project["optional-dependencies"]["test"])
    return {Requirement(s).name.lower(): Requirement(s) for s in specs}


def _conda_requirements() -> dict[str, Requirement]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    out: dict[str, Requirement] = {}
    for dep in env["dependencies"]:
        entries = dep["pip"] if isinstance(dep, dict) else [dep]
        for entry in entries:
            if entry.startswith("-e"):
                continue
            name = re.split(r"[<>=!\[ ]", entry, maxsplit=1)[0]
            if name in NOT_PYTHON_PACKAGES:
                continue
            req = Requirement(entry)
            out[req.name.lower()] = req
    return out


def test_same_packages() -> None:
    assert sorted(_conda_requirements()) == sorted(_pip_requirements())


def test_same_versions_and_extras() -> None:
    pip, conda = _pip_requirements(), _conda_requirements()
    for name, req in pip.items():
        assert conda[name].specifier == req.specifier, name
        assert conda[name].extras == req.extras, name


def test_python_and_java_match_glue_5() -> None:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    assert "openjdk=17" in env["dependencies"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11,<3.12"
    assert "pyspark==3.5.4" in project["dependencies"]
