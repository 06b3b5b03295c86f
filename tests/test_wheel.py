"""The installed wheel: one top-level package, `redline`, with the layers inside it.

The repository keeps `crawler/`, `scheduler/` and `storage/` as top-level folders; the wheel
installs them as `redline.crawler`, `redline.scheduler` and `redline.storage` (through the links
in redline/), so that installing Redline never shadows another distribution's `storage`.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out), str(REPO)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert built.returncode == 0, f"pip wheel failed:\n{built.stdout}\n{built.stderr}"
    (found,) = out.glob("redline-*.whl")
    return found


def test_the_wheel_installs_one_top_level_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"redline"}
    for needed in (
        "redline/storage/migrations/sqlite/0001_initial.sql",
        "redline/storage/migrations/postgres/0001_initial.sql",
        "redline/crawler/extract/profiles.toml",
        "redline/scheduler/daemon.py",
        "redline/web/templates/base.html",
        "redline/web/static/style.css",
    ):
        assert needed in names, needed
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "License-Expression: MIT" in text and "Project-URL:" in text
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def test_installed_only_redline_imports_and_it_works(wheel: Path, tmp_path: Path) -> None:
    """Installed into a folder of its own, next to its dependencies but not this checkout:
    `redline.storage` opens a database; `storage`, `crawler` and `scheduler` do not exist."""
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
         str(wheel)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    probe = f"""
import importlib.util, sys
sys.path[:] = [{str(target)!r}, *sys.path, {sysconfig.get_paths()["purelib"]!r}]
import redline, redline.storage, redline.crawler.diff, redline.scheduler.decision, redline.cli
assert redline.__file__.startswith({str(target)!r}), redline.__file__
store = redline.storage.open_store("sqlite:///{tmp_path}/r.sqlite")
print(store.schema_version())
print([n for n in ("storage", "crawler", "scheduler") if importlib.util.find_spec(n)])
"""
    # -I -S: no current directory, no PYTHONPATH, no site: the dependencies' folder is added
    # by hand, without its .pth files, so this checkout's editable install is not on the path.
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe],
        capture_output=True, text=True, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    version, missing = done.stdout.split("\n")[:2]
    assert int(version) > 0
    assert missing == "[]"
