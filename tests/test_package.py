"""What `pip install tousu` gets: one import name, its data, its Streamlit app; and the layers."""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA_FILES = ("taxonomy/telecom.yaml", "jieba/telecom_dict.txt", "stopwords/zh_complaints.txt",
              "cleaning/boilerplate.tsv", "demo/complaints.csv", "demo/surveys.csv", "sample/complaints_sample.csv")


def source_files() -> list[str]:
    """The checkout's files as a clean clone has them (tracked, or new and not ignored)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout")
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.splitlines()
    return [name for name in listed if (ROOT / name).is_file()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    clone = tmp_path_factory.mktemp("clone")
    for name in source_files():
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, clone / name)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(clone)], check=True, capture_output=True)
    (built,) = out.glob("tousu-*.whl")
    return zipfile.ZipFile(built)


@pytest.mark.slow
def test_the_wheel_adds_one_import_name_and_carries_data_and_app(wheel):
    names = wheel.namelist()
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"tousu"}
    for data_file in DATA_FILES:
        assert f"tousu/data/{data_file}" in names
    pages = sorted(path.name for path in (ROOT / "app_pages").glob("*.py"))
    assert "tousu/app.py" in names and pages
    assert all(f"tousu/app_pages/{page}" in names for page in pages)
    # Every module of the checkout's packages is in the wheel, and nothing of tests/ or bench/.
    packages = {path.parent for path in ROOT.rglob("__init__.py") if ".venv" not in path.parts
                and "build" not in path.relative_to(ROOT).parts}
    modules = {f"tousu/{path.relative_to(ROOT).as_posix()}" for package in packages for path in package.glob("*.py")}
    assert modules <= set(names), sorted(modules - set(names))
    assert not [name for name in names if name.startswith(("tousu/tests/", "tousu/bench/"))]


def test_the_layers_have_no_back_arrows():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if lint is None:
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    done = subprocess.run([lint, "--config", str(ROOT / "pyproject.toml")], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:]
