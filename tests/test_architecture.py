"""The arrows between packages that must never exist, checked on the source (ast scan of
every import statement, inside functions too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "inpaintkit"


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, as dotted names (``from a import b`` gives a and a.b)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                base = path.relative_to(PACKAGE.parent).with_suffix("").parts[: -node.level]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _files(subpackage: str) -> list[Path]:
    return sorted((PACKAGE / subpackage).rglob("*.py"))


def _offenders(subpackage: str, forbidden: str, allowed: tuple[str, ...] = ()) -> list[str]:
    bad = []
    for path in _files(subpackage):
        if path.name in allowed:
            continue
        hits = {m for m in _imports(path) if m == forbidden or m.startswith(forbidden + ".")}
        if hits:
            bad.append(f"{path.relative_to(PACKAGE)}: {', '.join(sorted(hits))}")
    return bad


def test_the_scanner_sees_imports():
    assert "cv2" in _imports(PACKAGE / "models" / "classical.py")
    assert _reaches(PACKAGE / "models" / "registry.py", "cv2")[-2:] == ["inpaintkit.models.classical", "cv2"]
    assert _offenders("inference", "inpaintkit.models")  # inference builds on models
    assert _files("web") and _files("training")


def _module_path(name: str) -> Path | None:
    parts = name.split(".")
    if parts[0] != "inpaintkit":
        return None
    base = PACKAGE.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _reaches(path: Path, target: str) -> list[str]:
    """An import chain from ``path`` to module ``target`` through inpaintkit modules, or []."""
    seen, stack = {path}, [(path, [str(path.relative_to(PACKAGE))])]
    while stack:
        current, chain = stack.pop()
        for name in sorted(_imports(current)):
            if name == target or name.startswith(target + "."):
                return [*chain, name]
            nxt = _module_path(name)
            if nxt is not None and nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*chain, name]))
    return []


def test_only_models_classical_imports_opencv():
    assert _offenders("models", "cv2", allowed=("classical.py",)) == []
    # Not even indirectly: the architectures and the checkpoint format never load OpenCV
    # (the registry does, to offer the classical fills; so do the modules that look names up in it).
    for path in _files("models"):
        if path.name not in ("classical.py", "registry.py", "__init__.py", "serialization.py", "size.py",
                             "summary.py"):
            assert _reaches(path, "cv2") == [], path.name


def test_web_never_imports_models():
    assert _offenders("web", "inpaintkit.models") == []


@pytest.mark.parametrize(("package", "other"), [("inference", "training"), ("training", "inference")])
def test_inference_and_training_do_not_import_each_other(package, other):
    assert _offenders(package, f"inpaintkit.{other}") == []


def test_no_source_file_over_400_lines():
    # Files that grow past this mix responsibilities (issue 13): split them by purpose.
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 400}
    assert long == {}
