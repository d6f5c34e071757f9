"""Packaging: environment.yml mirrors pyproject.toml; the README's layout and commands are true."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# PyPI name -> conda-forge name where they differ
CONDA_NAMES = {}


def _split(req):
    m = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", req.strip())
    return m.group(1).lower().replace("_", "-"), m.group(2).replace(" ", "")


def test_environment_yml_lists_the_same_packages_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = dict(_split(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"])
    wanted = {CONDA_NAMES.get(k, k): v for k, v in wanted.items()}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = dict(_split(d) for d in env["dependencies"] if isinstance(d, str))
    python = conda.pop("python")
    conda.pop("pip")
    assert conda == wanted
    assert python == project["requires-python"]
    assert {"pip": ["-e ."]} in env["dependencies"] and env["channels"] == ["conda-forge"]


def test_pingouin_range_is_pinned():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    spec = dict(_split(r) for r in deps)["pingouin"]
    assert ">=" in spec and "<" in spec.replace("<=", "")


def test_design_card_layout_exists():
    for name in ("notebooks", "evalkit", "data/sample", "tests", "environment.yml", "README.md", "pyproject.toml",
                 "Makefile", ".ci/run", "benchmarks"):
        assert (ROOT / name).exists(), name


def test_readme_names_the_two_commands_and_every_make_target():
    readme = (ROOT / "README.md").read_text()
    assert "make report" in readme and "make test" in readme
    targets = re.findall(r"^([a-z]+):.*##", (ROOT / "Makefile").read_text(), flags=re.M)
    for target in targets:
        assert f"make {target}" in readme, target
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_readme_layout_tree_matches_the_repository():
    readme = (ROOT / "README.md").read_text()
    tree = readme.split("<!-- layout -->")[1].split("<!-- /layout -->")[0]
    for path in re.findall(r"^\s*([\w./-]+/?)\s+#", tree, flags=re.M):
        assert (ROOT / path.rstrip("/")).exists(), f"README layout names {path}, which does not exist"


def _evalkit_imports(path):
    """Every evalkit module a source file imports (absolute names), read from its syntax tree."""
    import ast
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    if path.name == "__init__.py":
        package = package.rsplit(".", 1)[0] + ".__init__"
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:-node.level]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            names = [name] + [f"{name}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        out.update(n for n in names if n.startswith("evalkit"))
    return out


def test_wings_import_downward_only():
    # ../shared/STYLE.md: commands -> report -> stats, report -> data; stats imports neither data nor report,
    # data imports neither stats nor report, and no wing imports a command.
    commands = {"evalkit.cli", "evalkit.batch", "evalkit.runner", "evalkit.validate", "evalkit.sample",
                "evalkit.notebook", "evalkit.__main__"}
    forbidden = {"data": ("evalkit.stats", "evalkit.report"), "stats": ("evalkit.data", "evalkit.report"),
                 "report": ()}
    checked = 0
    for wing, banned in forbidden.items():
        for path in sorted((ROOT / "evalkit" / wing).rglob("*.py")):
            for name in _evalkit_imports(path):
                assert not name.startswith(banned), f"{path.relative_to(ROOT)} imports {name}"
                assert not any(name == c or name.startswith(c + ".") for c in commands), \
                    f"{path.relative_to(ROOT)} imports the command {name}"
            checked += 1
    assert checked >= 15


def test_public_imports_survive_the_move():
    import evalkit.notebook as ek
    import evalkit.report.notebook
    from evalkit.stats import paired_outcomes, reliable_change  # noqa: F401
    from evalkit.data import prepare_cohort  # noqa: F401
    assert ek is evalkit.report.notebook and callable(ek.accounting)
