"""The layer's pinned list is complete, ships nothing the Lambda runtime has, and is what the tests run."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bench.layer import RUNTIME_PACKAGES

ROOT = Path(__file__).resolve().parents[2]
LAYER_REQUIREMENTS = ROOT / "layers/shared/python/requirements.txt"
DEV_REQUIREMENTS = ROOT / "requirements-dev.txt"

# The layer's packages the project's code imports; the rest of the layer is what these need.
IMPORTED_BY_THE_CODE = {"aws-lambda-powertools", "pydantic", "requests", "tzdata", "ahocorasick-rs", "phonenumberslite"}
# Extras the project uses: powertools' Tracer needs the X-Ray SDK.
EXTRAS_USED = {"aws-lambda-powertools": {"tracer"}}
LAMBDA_ENVIRONMENT = {
    **default_environment(),
    "python_version": "3.13",
    "python_full_version": "3.13.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "aarch64",
}
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s#]+)")


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            found[canonicalize_name(match[1])] = match[2]
    return found


def needed_on_lambda(package: str) -> set[str]:
    """The packages `package` needs on python3.13 arm64 Linux, with the extras the project uses."""
    needed = set()
    for line in importlib.metadata.requires(package) or []:
        requirement = Requirement(line)
        extras = EXTRAS_USED.get(package, set()) | {""}
        if requirement.marker is None or any(
            requirement.marker.evaluate({**LAMBDA_ENVIRONMENT, "extra": extra}) for extra in extras
        ):
            needed.add(canonicalize_name(requirement.name))
    return needed


def test_every_line_is_an_exact_pin() -> None:
    lines = [line.split("#")[0].strip() for line in LAYER_REQUIREMENTS.read_text().splitlines()]
    assert [line for line in lines if line and not PIN.match(line)] == []


def test_the_layer_ships_nothing_the_runtime_has() -> None:
    assert set(pins(LAYER_REQUIREMENTS)) & RUNTIME_PACKAGES == set()


def test_the_layer_has_every_package_its_packages_need() -> None:
    shipped = set(pins(LAYER_REQUIREMENTS))
    missing = {
        f"{package} needs {needed}"
        for package in shipped
        for needed in needed_on_lambda(package)
        if needed not in shipped | RUNTIME_PACKAGES
    }
    assert missing == set(), "add these to layers/shared/python/requirements.txt"


def test_the_layer_has_nothing_its_packages_do_not_need() -> None:
    shipped = set(pins(LAYER_REQUIREMENTS))
    reached, todo = set(), list(IMPORTED_BY_THE_CODE)
    while todo:
        package = todo.pop()
        if package in reached or package in RUNTIME_PACKAGES:
            continue
        reached.add(package)
        todo.extend(needed_on_lambda(package))
    assert shipped - reached == set()


def test_tests_run_the_versions_that_ship() -> None:
    """The app venv installs the layer's pins and the runtime's boto3; a drift means tests run other code."""
    expected = pins(LAYER_REQUIREMENTS) | {
        name: version for name, version in pins(DEV_REQUIREMENTS).items() if name in RUNTIME_PACKAGES
    }
    assert set(expected) >= RUNTIME_PACKAGES, "requirements-dev.txt pins each of the runtime's packages"
    installed = {name: importlib.metadata.version(name) for name in expected}
    assert installed == expected
