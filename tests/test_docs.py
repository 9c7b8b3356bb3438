"""What the README and the notebooks promise: the commands CI runs, the claims list, chapter references."""

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
WRITTEN = {int(p.name[:2]) for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}


def markdown(path):
    return "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")


def claims(text):
    """The numbered claims of a claims table: {number: sentence}."""
    return {int(n): claim.strip() for n, claim in re.findall(r"^\| (\d) \| ([^|]+)\|", text, flags=re.M)}


def test_ci_runs_exactly_the_readme_test_command():
    command = "pip install -r requirements.txt && pytest"
    assert f"{command} " in README and "pip install -r requirements.txt && jupyter lab" in README
    ci = [line for line in (ROOT / ".ci/run").read_text().splitlines() if line and not line.startswith("#")]
    assert ci[-1] == command


def test_the_readme_marks_only_chapters_not_written_yet_as_coming():
    for number, title in re.findall(r"^\| (\d\d) \| ([^|]+)\|", README, flags=re.M):
        assert ("coming" in title) == (int(number) not in WRITTEN), f"README course table, chapter {number}: {title}"


def test_the_nine_claims_stand_in_the_readme_and_in_notebook_00():
    in_readme = claims(README[README.index("## The nine claims"):])
    in_welcome = claims(markdown(ROOT / "notebooks/00_welcome.ipynb"))
    assert sorted(in_readme) == list(range(1, 10)) and in_readme == in_welcome


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb")),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_chapters_not_written_yet_are_marked_coming(path):
    text = markdown(path)
    for match in re.finditer(r"[Cc]hapters? (\d\d)\b", text):
        if int(match.group(1)) not in WRITTEN:
            after = text[match.end():match.end() + 40]
            assert "coming" in after, f"{path.name}: '{text[match.start():match.end() + 40]}' refers to a chapter " \
                                      f"that is not written yet: mark it (coming)"
    for match in re.finditer(r"(?:[Cc]hapters? |\| )(\d\d),? \*?\(?coming", text):
        assert int(match.group(1)) not in WRITTEN, f"{path.name}: '{match.group(0)}': chapter {match.group(1)} is " \
                                                   f"written, drop its (coming)"
    for number in re.findall(r"claim (\d+)", text, flags=re.I):
        assert 1 <= int(number) <= 9, f"{path.name} cites claim {number}: the course lists claims 1-9"


def test_the_instructors_guide_is_linked_and_its_options_exist():
    """Every option the guide gives for the grader and the exporter is one the programs accept."""
    import re
    import subprocess
    import sys

    guide = (ROOT / "instructors" / "README.md").read_text()
    assert "instructors/README.md" in (ROOT / "README.md").read_text()
    for module in ("lrcourse.grade", "lrcourse.exercises"):
        usage = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True,
                               check=True).stdout
        cited = set(re.findall(rf"python -m {re.escape(module)}\b[^`\n]*?(--[a-z-]+)", guide))
        assert cited, module
        for option in cited:
            assert option in usage, f"the guide cites {module} {option}, which it does not accept"
