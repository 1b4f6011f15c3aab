"""The package's shape, checked from its imports: rules apart from adapters, imports one way, no cycles.

domain/ holds the rules and shapes and imports no boto3, requests or powertools; each
adapter group talks to one outside thing and never to another group; nothing in
messaging_partner imports the handler layer.
"""

from __future__ import annotations

import ast
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

PYTHON_ROOT = Path(__file__).resolve().parents[2] / "layers" / "shared" / "python"
PACKAGE = PYTHON_ROOT / "messaging_partner"

# What each part may import besides the standard library and its own part.
ALLOWED_OUTSIDE = {
    "messaging_partner.domain": {"pydantic", "pydantic_core", "ahocorasick_rs"},  # pydantic_core: pydantic's own errors
    "messaging_partner.adapters.channels": {"messaging_partner.domain"},
    "messaging_partner.adapters.tiktok_api": {"messaging_partner.domain", "requests", "phonenumbers"},
    "messaging_partner.adapters.aws": {"messaging_partner.domain", "boto3", "botocore"},
    "messaging_partner.adapters": {"messaging_partner.domain"},
    "messaging_partner": set(),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PYTHON_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module the file imports, relative imports resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            target = ".".join(p for p in (base, node.module or "") if p)
            found.add(target)
            if node.module is None:  # from . import whatsapp
                found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def part_of(module: str) -> str:
    return next(part for part in sorted(ALLOWED_OUTSIDE, key=len, reverse=True) if module.startswith(part))


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def within(imported: str, prefix: str) -> bool:
    return imported == prefix or imported.startswith(prefix + ".")


@pytest.mark.parametrize("module", sorted(MODULES))
def test_each_part_imports_only_what_it_talks_to(module: str) -> None:
    part = part_of(module)
    allowed = ALLOWED_OUTSIDE[part] | {part}
    foreign = sorted(
        imported
        for imported in imports_of(MODULES[module])
        if imported.split(".")[0] not in sys.stdlib_module_names and imported != "__future__"
        if not any(within(imported, prefix) for prefix in allowed)
    )
    assert foreign == [], f"{module} ({part}) imports {foreign}"


def test_the_domain_imports_no_sdk_and_no_adapter() -> None:
    for module, path in MODULES.items():
        if module.startswith("messaging_partner.domain"):
            for imported in imports_of(path):
                top = imported.split(".")[0]
                assert top not in {"boto3", "botocore", "requests", "aws_lambda_powertools", "handler_support"}, module
                assert not imported.startswith("messaging_partner.adapters"), module


def test_no_import_cycles() -> None:
    graph = {module: {i for i in imports_of(path) if i in MODULES and i != module} for module, path in MODULES.items()}
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as error:
        pytest.fail(f"import cycle: {' -> '.join(error.args[1])}")


def test_the_checker_sees_relative_and_absolute_imports() -> None:
    assert "messaging_partner.domain.models" in imports_of(MODULES["messaging_partner.domain.attribution"])
    assert "messaging_partner.adapters.channels.whatsapp" in imports_of(MODULES["messaging_partner.adapters.channels"])
    assert "messaging_partner.domain.errors" in imports_of(MODULES["messaging_partner.adapters.tiktok_api.client"])
    assert "requests" in imports_of(MODULES["messaging_partner.adapters.tiktok_api.client"])
