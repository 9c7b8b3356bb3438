"""A regular (non-editable) install, as JupyterHub images and Binder make one, carries the whole library."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_carries_every_file_of_the_library(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "lrcourse", source / "lrcourse", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                    "--wheel-dir", str(tmp_path / "dist"), str(source)], check=True, capture_output=True,
                   timeout=300)
    (wheel,) = (tmp_path / "dist").glob("lrcourse-*.whl")
    carried = set(zipfile.ZipFile(wheel).namelist())
    library = {path.relative_to(source).as_posix() for path in (source / "lrcourse").rglob("*") if path.is_file()}
    assert len(library) > 20 and {"lrcourse/grading/core.py", "lrcourse/widgets/core.py"} <= library
    assert library - carried == set(), "files of lrcourse/ missing from the wheel"
