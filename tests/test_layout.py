"""The README's Layout section, as a check: which isegan package may import which."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO_ROOT

#: package -> the other isegan packages it may import.
ALLOWED = {
    "model": set(),
    "training": {"model"},
    "provenance": {"model"},
    "service": {"model", "provenance"},
    "cli": {"model", "training", "provenance", "service"},
}
#: What the CLI may use of the service: its client, and for `isegan serve` the app
#: factory and the settings.
CLI_SERVICE_MODULES = {"isegan.service.client", "isegan.service.app", "isegan.service.settings"}


def isegan_imports(path: Path) -> list[str]:
    """Every ``isegan.…`` module a source file imports, at any depth."""
    modules = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.append(node.module)
        elif isinstance(node, ast.Import):
            modules.extend(alias.name for alias in node.names)
    return [m for m in modules if m.startswith("isegan.")]


def test_each_package_imports_only_what_the_layout_allows() -> None:
    breaches = []
    for package, allowed in ALLOWED.items():
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            for module in isegan_imports(path):
                target = module.split(".")[1]
                if target == package:
                    continue
                narrowed = package == "cli" and target == "service"
                if target not in allowed or (narrowed and module not in CLI_SERVICE_MODULES):
                    breaches.append(f"{path.relative_to(REPO_ROOT)} imports {module}")
    assert not breaches, "\n".join(breaches)


def test_the_check_sees_function_level_imports(tmp_path: Path) -> None:
    source = tmp_path / "example.py"
    source.write_text("def f():\n    from isegan.service.runtime.state import ServiceState\n")
    assert isegan_imports(source) == ["isegan.service.runtime.state"]


#: Inside the service: HTTP plumbing and the runtime behind it know nothing of each other
#: or of the routes (the routes and dependencies.py join them).
SERVICE_SUBPACKAGES_NOT_IMPORTED = {
    "http": ("isegan.service.runtime", "isegan.service.routes", "isegan.service.dependencies"),
    "runtime": ("isegan.service.http", "isegan.service.routes", "isegan.service.dependencies"),
}


def test_service_http_and_runtime_stay_apart() -> None:
    breaches = []
    for folder, forbidden in SERVICE_SUBPACKAGES_NOT_IMPORTED.items():
        for path in sorted((REPO_ROOT / "service" / folder).rglob("*.py")):
            for module in isegan_imports(path):
                if module.startswith(forbidden):
                    breaches.append(f"{path.relative_to(REPO_ROOT)} imports {module}")
    assert not breaches, "\n".join(breaches)
    assert (REPO_ROOT / "service" / "http" / "problems.py").is_file()  # the rule sees files
