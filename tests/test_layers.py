"""One-way layers: a module imports only modules of its own layer or earlier ones.

Every module under `autocomplete/` is parsed with `ast` (no import runs) and
every import it holds is checked: top-level ones, those inside functions
(the lazy CLI and the heavy-module imports) and those under `TYPE_CHECKING`.
A function-local import is still a dependency, so it cannot hide a cycle.

Layers, earliest first:

    tokens     tokens, textprep, model_names, tied_embedding (a layer that loading a saved
               model needs), artifacts, shards, corpus/*, the package itself
    engines    model, lazy_adam, losses, keras_step, fastpath, decoding, decoding_defaults, memo,
               logprobs, cache, ngram, blend, callbacks/*, distribute
    evaluate   evaluate/*
    train      train (scores its held-out data with evaluate's packed-window scorer)
    report     report/*
    serve      serve/*
    commands   commands/*, cli, __main__
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "autocomplete"

# (layer, module name prefixes); a prefix "autocomplete.x" covers autocomplete.x.*
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("tokens", ("autocomplete.tokens", "autocomplete.textprep", "autocomplete.model_names",
                "autocomplete.tied_embedding", "autocomplete.artifacts", "autocomplete.shards",
                "autocomplete.corpus")),
    ("engines", ("autocomplete.model", "autocomplete.lazy_adam", "autocomplete.losses",
                 "autocomplete.keras_step",
                 "autocomplete.fastpath", "autocomplete.decoding", "autocomplete.decoding_defaults",
                 "autocomplete.memo", "autocomplete.logprobs", "autocomplete.cache",
                 "autocomplete.ngram", "autocomplete.blend", "autocomplete.callbacks",
                 "autocomplete.distribute")),
    ("evaluate", ("autocomplete.evaluate",)),
    ("train", ("autocomplete.train",)),
    ("report", ("autocomplete.report",)),
    ("serve", ("autocomplete.serve",)),
    ("commands", ("autocomplete.commands", "autocomplete.cli", "autocomplete.__main__")),
)
RANK = {name: i for i, (name, _) in enumerate(LAYERS)}


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str:
    """The layer of a module of the package; KeyError for one the map does not place."""
    if module == "autocomplete":  # the package's __init__: a docstring and a version
        return LAYERS[0][0]
    for name, prefixes in LAYERS:
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return name
    raise KeyError(module)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str) -> str:
    """The module an import of `name` loads: `name` itself, or its package when `name` is an
    attribute of it (`from autocomplete import artifacts` names a module, `from
    autocomplete.evaluate import PAD_ID` a name in a package)."""
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def imports_of(path: Path, root: Path = ROOT) -> set[tuple[str, int]]:
    """(module of the package, line) of every import in the file, at any depth."""
    module = module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[tuple[str, int]] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the file's package up
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" for alias in node.names]
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module" and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            names = [node.args[0].value]
        for name in names:
            if name == "autocomplete" or name.startswith("autocomplete."):
                found.add((_resolve(name), node.lineno))
    return found


def violations(modules: dict[str, Path] = MODULES) -> list[str]:
    out = []
    for module, path in modules.items():
        own = RANK[layer_of(module)]
        for target, line in sorted(imports_of(path)):
            if RANK[layer_of(target)] > own:
                out.append(f"{path.relative_to(ROOT)}:{line}: {module} ({layer_of(module)}) "
                           f"imports {target} ({layer_of(target)})")
    return out


def imported(module: str) -> set[str]:
    return {target for target, _ in imports_of(MODULES[module])}


def test_every_module_has_a_layer():
    unplaced = []
    for module in MODULES:
        try:
            layer_of(module)
        except KeyError:
            unplaced.append(module)
    assert not unplaced, f"add these modules to a layer in LAYERS: {unplaced}"


def test_no_module_imports_a_later_layer():
    bad = violations()
    assert not bad, "imports of a later layer:\n" + "\n".join(bad)


def test_cache_does_not_import_evaluate_and_artifacts_not_cache():
    assert not {m for m in imported("autocomplete.cache")
                if m == "autocomplete.evaluate" or m.startswith("autocomplete.evaluate.")}
    assert "autocomplete.cache" not in imported("autocomplete.artifacts")


@pytest.mark.parametrize("package", ["report", "evaluate", "serve"])
def test_library_packages_do_not_import_commands(package):
    bad = {
        f"{module} imports {target}"
        for module in MODULES if module.startswith(f"autocomplete.{package}")
        for target in imported(module)
        if target.startswith("autocomplete.commands") or target == "autocomplete.cli"
    }
    assert not bad, sorted(bad)


def test_the_checker_sees_function_local_and_type_checking_imports(tmp_path):
    probe = tmp_path / "autocomplete" / "tokens.py"
    probe.parent.mkdir()
    probe.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from autocomplete.cache import ContinuousCache\n"
        "def f():\n"
        "    from autocomplete.evaluate import metrics\n"
        "    import autocomplete.commands.complete\n"
    )
    found = {m for m, _ in imports_of(probe, root=tmp_path)}
    assert {"autocomplete.cache", "autocomplete.evaluate.metrics",
            "autocomplete.commands.complete"} <= found
