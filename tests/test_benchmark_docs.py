"""docs/benchmarks.md is generated from the result tables and kept current."""

from benchmarks import summary


def test_docs_benchmarks_is_the_summary_of_the_committed_tables():
    assert summary.OUT.read_text() == summary.render(), "run: python -m benchmarks.summary"


def test_a_section_copies_its_tables_with_their_captions(tmp_path):
    (tmp_path / "t.md").write_text("Intro line.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n## Second\n\nCaption two.\n\n| c |\n|---|\n| 3 |\n")
    text = summary.section_text(summary.Section("T", "t.md", "python -m x", "What it measures.", (1, 0)), tmp_path)
    assert text.index("Caption two.") < text.index("| c |") < text.index("Intro line.") < text.index("| 1 | 2 |")
    missing = summary.section_text(summary.Section("M", "none.md", "python -m y", "Nothing."), tmp_path)
    assert "Not run yet." in missing and "python -m y" in missing
