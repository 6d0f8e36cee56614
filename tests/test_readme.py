"""Every command the README promises is the one CI runs or a test exercises."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
CI = (REPO / ".ci" / "run").read_text()


def _fenced_commands():
    blocks = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    return [line.split("#")[0].strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_ci_runs_the_readme_test_command():
    test_command = next(c for c in _fenced_commands() if "pytest" in c)
    steps = [part.strip() for part in test_command.split("&&")]
    ci_lines = [line.strip() for line in CI.splitlines() if line.strip() and not line.startswith("#")]
    for step in steps:
        assert any(line.endswith(step) for line in ci_lines), step
    assert ci_lines[-1] == steps[-1]


def test_the_first_command_runs_the_demo():
    first = _fenced_commands()[0]
    assert first == "pip install . && ens2rt demo"


def test_the_readme_tells_newcomers_how_to_run_the_tests():
    """CPU-only torch, where the ground truth comes from (ENS2_SHARED), and the slow marker."""
    assert "--index-url https://download.pytorch.org/whl/cpu" in README and "nvidia" in README
    assert "ENS2_SHARED" in README and "ENS2_SHARED" in (REPO / "tests" / "conftest.py").read_text()
    assert "-m slow" in README


def test_every_relative_link_in_the_readme_and_docs_resolves():
    """The README is a five-minute guide that sends readers to docs/: each link must land on a file."""
    broken = []
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"^(https?:|mailto:|#)", target):
                continue
            if not (page.parent / target.split("#")[0]).exists():
                broken.append(f"{page.relative_to(REPO)} -> {target}")
    assert not broken, broken


def test_the_readme_is_a_short_guide_whose_headings_answer_a_newcomer():
    headings = [line[3:].strip() for line in README.splitlines() if line.startswith("## ")]
    assert len(README.splitlines()) <= 250
    for wanted in ("Install", "First run", "Your own data", "Choosing a model", "Outputs", "Troubleshooting"):
        assert wanted in headings, wanted
