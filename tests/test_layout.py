"""The shape of the code, checked like behaviour: small modules, one name per file, layers that
import only downwards (import-linter), helpers in tests/support/ and no test importing another."""

import ast
import subprocess
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "metrics"
MAX_LINES = 300


def _app_modules() -> list[Path]:
    return sorted(path for path in APP.rglob("*.py") if "migrations" not in path.parts)


def test_no_module_of_the_app_is_over_300_lines():
    long = {
        str(path.relative_to(ROOT)): n
        for path in _app_modules()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_no_two_files_of_the_app_share_a_name():
    names = Counter(path.name for path in _app_modules() if path.name != "__init__.py")
    assert {name: count for name, count in names.items() if count > 1} == {}


def test_package_inits_only_re_export():
    """An __init__.py holds a docstring, imports and __all__: no function, class or logic."""
    for path in _app_modules():
        if path.name != "__init__.py":
            continue
        for node in ast.parse(path.read_text()).body:
            allowed = isinstance(node, ast.Import | ast.ImportFrom) or (
                isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            )
            if isinstance(node, ast.Assign):
                allowed = [getattr(t, "id", None) for t in node.targets] == ["__all__"]
            assert allowed, f"{path.relative_to(ROOT)}:{node.lineno} is more than a re-export"


def test_no_test_module_imports_another_test_module_or_conftest():
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                last = name.rsplit(".", 1)[-1]
                assert not (name.startswith("tests.") and (last.startswith("test_") or last == "conftest")), (
                    f"{path.relative_to(ROOT)} imports {name}: shared helpers belong in tests/support/"
                )


def test_only_test_modules_and_conftest_sit_at_the_top_of_tests():
    top = {path.name for path in (ROOT / "tests").glob("*.py")}
    assert {name for name in top if not name.startswith("test_")} == {"__init__.py", "conftest.py"}


def test_the_layers_are_kept_and_a_wrong_way_import_breaks_them(tmp_path):
    """lint-imports passes on the tree, and fails once the tracker imports reports."""
    lint = [str(ROOT / ".venv" / "bin" / "lint-imports"), "--no-cache"]
    kept = subprocess.run(lint, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert "0 broken" in kept.stdout
    copy = tmp_path / "tree"
    subprocess.run(
        ["cp", "-r", str(APP), str(copy / "metrics")], check=True
    ) if copy.mkdir() is None else None
    subprocess.run(["cp", str(ROOT / "pyproject.toml"), str(copy)], check=True)
    (copy / "demo").mkdir()
    (copy / "demo" / "__init__.py").write_text("")
    sync = copy / "metrics" / "tracker" / "sync.py"
    sync.write_text(sync.read_text() + "\nfrom metrics.reports import alerts  # noqa: E402,F401\n")
    broken = subprocess.run(lint, cwd=copy, capture_output=True, text=True, timeout=120)
    assert broken.returncode != 0
    assert "metrics.tracker.sync -> metrics.reports.alerts" in broken.stdout
