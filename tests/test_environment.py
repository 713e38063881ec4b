"""The set-up files agree with each other: environment.yml, pyproject.toml, README, CI."""

import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from rattler import MatchSpec

ROOT = Path(__file__).resolve().parents[1]
# PyPI name -> conda-forge name, where they differ
CONDA_NAMES = {"torch": "pytorch"}


@pytest.fixture(scope="module")
def environment():
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def conda_and_pip(environment):
    conda = [d for d in environment["dependencies"] if isinstance(d, str)]
    pip = [line for d in environment["dependencies"] if isinstance(d, dict)
           for line in d.get("pip", [])]
    return conda, pip


def test_environment_yml_parses(environment):
    assert environment["channels"] == ["conda-forge"]
    conda, pip = conda_and_pip(environment)
    specs = [MatchSpec(d) for d in conda]  # raises on a malformed spec
    python = next(s for s in specs if s.name.normalized == "python")
    assert ">=3.11" in str(python.version)
    assert pip, "environment.yml should install d2lhpo itself through pip"
    for line in pip:
        if line.startswith(("-e ", ".", "/")):
            continue  # a local path: the package in this repository
        Requirement(line)  # raises on a malformed requirement


def test_environment_yml_names_every_dependency(environment):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted += [r for r in extra if Requirement(r).name != project["name"]]
    conda, _ = conda_and_pip(environment)
    have = {MatchSpec(d).name.normalized for d in conda}
    missing = []
    for req in map(Requirement, wanted):
        name = canonicalize_name(req.name)
        if CONDA_NAMES.get(name, name) not in have:
            missing.append(req.name)
    assert not missing, f"environment.yml lacks {missing}"


def quick_start_commands() -> list[str]:
    """The shell lines in the README's 'Quick start' section (comments left out)."""
    readme = (ROOT / "README.md").read_text()
    section = re.search(r"^## Quick start\n(.*?)(?=^## )", readme, re.S | re.M)
    assert section, "README.md has no '## Quick start' section"
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", section.group(1), re.S | re.M)
    lines = [ln.strip() for block in blocks for ln in block.splitlines()]
    return [ln for ln in lines if ln and not ln.startswith("#")]


def test_quick_start_has_two_commands():
    commands = quick_start_commands()
    assert len(commands) == 2, commands
    assert any("notebooks" in c for c in commands) and any("test" in c for c in commands)


def test_ci_runs_the_readme_test_command():
    test_command = next(c for c in quick_start_commands() if "test" in c)
    script = (ROOT / ".ci" / "run").read_text().splitlines()
    assert script[0].startswith("#!") and "bash" in script[0]
    assert "set -euo pipefail" in script
    assert test_command in [line.strip() for line in script]
