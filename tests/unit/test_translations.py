"""The Korean notebooks: their catalogues cover the English notebooks, and they are what the
generator (``tools/translate_notebooks.py``, ``python3 tasks.py translate``) writes.

The first tests hold the repository's own notebooks; the rest try the generator on tiny
notebooks in a temporary folder.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from tools import translate_notebooks as tr

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
ENGLISH = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
FIX = "run `python3 tasks.py translate --todo` to see what to translate"


def test_the_english_notebooks_are_found() -> None:
    assert len(ENGLISH) >= 9


# -- the repository's notebooks -------------------------------------------------------------------
@pytest.mark.parametrize("english", ENGLISH, ids=lambda p: p.stem)
def test_every_markdown_cell_has_an_up_to_date_korean_entry(english: Path) -> None:
    notebook = nbformat.read(english, as_version=4)
    catalogue = tr.load_catalogue(tr.catalogue_path(NOTEBOOKS_DIR, english))
    findings = tr.compare(notebook, catalogue)
    cells = {cell.id: cell for cell in notebook.cells}
    lacking = [f"{english.name} cell {cell_id} ({kind}): {tr.first_line(cells[cell_id])}"
               for kind, ids in (("missing", findings.missing), ("stale", findings.stale))
               for cell_id in ids]
    assert not lacking, f"{len(lacking)} cell(s) lack Korean text ({FIX}):\n" + "\n".join(lacking)


@pytest.mark.parametrize("english", ENGLISH, ids=lambda p: p.stem)
def test_no_catalogue_entry_is_an_orphan(english: Path) -> None:
    notebook = nbformat.read(english, as_version=4)
    path = tr.catalogue_path(NOTEBOOKS_DIR, english)
    orphans = tr.compare(notebook, tr.load_catalogue(path)).orphans
    assert not orphans, (f"{path.name} has entries for cells {english.name} no longer has: "
                         f"{orphans}")


def test_every_catalogue_belongs_to_an_english_notebook() -> None:
    stems = {p.stem for p in ENGLISH}
    strays = [p.name for p in (NOTEBOOKS_DIR / "translations" / "ko").glob("*.yaml")
              if p.stem not in stems]
    assert not strays, f"catalogues without an English notebook: {strays}"


@pytest.mark.parametrize("english", ENGLISH, ids=lambda p: p.stem)
def test_the_committed_korean_notebook_is_what_the_generator_writes(english: Path) -> None:
    korean = tr.korean_path(NOTEBOOKS_DIR, english)
    assert korean.exists(), f"notebooks/ko/{english.name} is missing; {FIX}, then run " \
                            "`python3 tasks.py translate`"
    outcome = tr.generate(NOTEBOOKS_DIR, english)
    assert outcome.text is not None, f"its catalogue lacks entries; {FIX}"
    assert korean.read_text(encoding="utf-8") == outcome.text, (
        f"notebooks/ko/{english.name} is not what `python3 tasks.py translate` writes from "
        f"notebooks/{english.name}: run it (never edit notebooks/ko/ by hand)")


def test_no_korean_notebook_lacks_its_english_one() -> None:
    names = {p.name for p in ENGLISH}
    strays = [p.name for p in (NOTEBOOKS_DIR / "ko").glob("*.ipynb") if p.name not in names]
    assert not strays, f"Korean notebooks without an English one: {strays}"


# -- the generator, on tiny notebooks ----------------------------------------------------------
PARAMETERS = 'target = "local"\nlang = "en"                        # messages from labkit\n'
CHECK_OUTPUT = nbformat.from_dict({"output_type": "display_data", "metadata": {},
                "data": {tr.CHECK_REPORT_MIME: {"step": "01"}, "text/plain": "Step 01: 1/1"}})
VALUE_OUTPUT = nbformat.from_dict({"output_type": "execute_result", "metadata": {},
                                   "execution_count": 3, "data": {"text/plain": "(200, 'ok')"}})


def tiny_notebook() -> nbformat.NotebookNode:
    """Title, parameters, a prose cell, a code cell with a kept output, a check cell."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["labkit"] = {"uses_machine_cpu": True}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 01 · Title\n\nIntro.", id="01-00"),
        nbformat.v4.new_code_cell(PARAMETERS, id="01-01", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_markdown_cell("## Send it", id="01-02"),
        nbformat.v4.new_code_cell("x = (200, 'ok')\nx", id="01-03", execution_count=3,
                                  outputs=[VALUE_OUTPUT],
                                  metadata={"tags": ["nbval-check-output"]}),
        nbformat.v4.new_code_cell('lab.check("01")', id="01-04", execution_count=4,
                                  outputs=[CHECK_OUTPUT],
                                  metadata={"tags": ["check", "nbval-check-output"]}),
    ]
    return nb


KOREAN = {"01-00": "# 01 · 제목\n\n소개.\n", "01-02": "## 보내기\n"}


def write_workbook(folder: Path, catalogue: dict[str, dict[str, str]] | None) -> Path:
    """A notebooks folder with the tiny notebook and, if given, its catalogue."""
    english = folder / "01_tiny.ipynb"
    nbformat.write(tiny_notebook(), english)
    if catalogue is not None:
        path = tr.catalogue_path(folder, english)
        path.parent.mkdir(parents=True)
        path.write_text("# 한국어\n" + "".join(
            f'{cell_id}:\n  en: "{entry["en"]}"\n  ko: |\n' +
            "".join(f"    {line}\n" if line else "\n" for line in entry["ko"].splitlines())
            for cell_id, entry in catalogue.items()), encoding="utf-8")
    return english


def full_catalogue() -> dict[str, dict[str, str]]:
    """Up-to-date entries for both markdown cells; hashes worked out from the texts above."""
    import hashlib

    def digest(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]

    return {"01-00": {"en": digest("# 01 · Title\n\nIntro."), "ko": KOREAN["01-00"]},
            "01-02": {"en": digest("## Send it"), "ko": KOREAN["01-02"]}}


def test_the_english_hash_is_the_first_twelve_hex_digits_of_sha256() -> None:
    # sha256("abc"), a published test vector
    assert tr.english_hash("abc") == "ba7816bf8f01"


def test_a_full_catalogue_makes_a_korean_notebook(tmp_path: Path) -> None:
    english = write_workbook(tmp_path, full_catalogue())
    assert tr.main([], notebooks_dir=tmp_path) == 0
    korean = json.loads((tmp_path / "ko" / "01_tiny.ipynb").read_text(encoding="utf-8"))
    source = json.loads(english.read_text(encoding="utf-8"))
    assert [c["id"] for c in korean["cells"]] == [c["id"] for c in source["cells"]]
    assert korean["metadata"] == source["metadata"]
    texts = {c["id"]: "".join(c["source"]) for c in korean["cells"]}
    assert texts["01-00"] == "# 01 · 제목\n\n소개."
    assert texts["01-02"] == "## 보내기"
    # the parameters cell: only the language's default changes
    assert texts["01-01"] == PARAMETERS.replace('lang = "en"', 'lang = "ko"')
    # a code cell and its language-free stored output, as in English
    assert korean["cells"][3] == source["cells"][3]
    # the check report is in the notebook's language: the English one is left out
    check = korean["cells"][4]
    assert check["outputs"] == [] and check["execution_count"] is None
    assert check["source"] == source["cells"][4]["source"]
    assert check["metadata"] == source["cells"][4]["metadata"]


def test_writing_twice_gives_the_same_bytes_and_check_then_passes(tmp_path: Path) -> None:
    write_workbook(tmp_path, full_catalogue())
    tr.main([], notebooks_dir=tmp_path)
    first = (tmp_path / "ko" / "01_tiny.ipynb").read_bytes()
    tr.main([], notebooks_dir=tmp_path)
    assert (tmp_path / "ko" / "01_tiny.ipynb").read_bytes() == first
    assert first.endswith(b"}\n") and "제목".encode() in first  # as nbformat writes, no escapes
    assert tr.main(["--check"], notebooks_dir=tmp_path) == 0


def test_check_reports_a_hand_edited_korean_notebook(tmp_path: Path, capsys) -> None:
    write_workbook(tmp_path, full_catalogue())
    tr.main([], notebooks_dir=tmp_path)
    korean = tmp_path / "ko" / "01_tiny.ipynb"
    korean.write_text(korean.read_text(encoding="utf-8").replace("보내기", "보내"),
                      encoding="utf-8")
    capsys.readouterr()
    assert tr.main(["--check"], notebooks_dir=tmp_path) == 1
    assert "ko/01_tiny.ipynb: out of date" in capsys.readouterr().out
    assert "보내\"" in korean.read_text(encoding="utf-8")  # --check wrote nothing


def test_a_missing_entry_refuses_to_write_and_names_the_cell(tmp_path: Path, capsys) -> None:
    catalogue = full_catalogue()
    del catalogue["01-02"]
    write_workbook(tmp_path, catalogue)
    assert tr.main([], notebooks_dir=tmp_path) == 1
    out = capsys.readouterr().out
    assert "missing entry for cell 01-02: ## Send it" in out
    assert not (tmp_path / "ko" / "01_tiny.ipynb").exists()


def test_no_catalogue_at_all_means_every_cell_is_missing(tmp_path: Path) -> None:
    english = write_workbook(tmp_path, None)
    findings = tr.compare(nbformat.read(english, as_version=4),
                          tr.load_catalogue(tr.catalogue_path(tmp_path, english)))
    assert findings.missing == ["01-00", "01-02"] and not findings.stale


def test_a_stale_entry_refuses_to_write(tmp_path: Path, capsys) -> None:
    catalogue = full_catalogue()
    catalogue["01-00"]["en"] = "000000000abc"  # translated from an older English text
    write_workbook(tmp_path, catalogue)
    assert tr.main([], notebooks_dir=tmp_path) == 1
    assert "stale entry for cell 01-00: # 01 · Title" in capsys.readouterr().out
    assert not (tmp_path / "ko").exists()


def test_allow_missing_keeps_the_english_text_of_those_cells(tmp_path: Path) -> None:
    catalogue = full_catalogue()
    del catalogue["01-02"]
    write_workbook(tmp_path, catalogue)
    assert tr.main(["--allow-missing"], notebooks_dir=tmp_path) == 0
    korean = nbformat.read(tmp_path / "ko" / "01_tiny.ipynb", as_version=4)
    assert [c.source for c in korean.cells if c.cell_type == "markdown"] == [
        "# 01 · 제목\n\n소개.", "## Send it"]


def test_an_orphan_entry_is_reported(tmp_path: Path, capsys) -> None:
    catalogue = full_catalogue()
    catalogue["01-99"] = {"en": "0123456789ab", "ko": "사라진 셀"}
    catalogue["01-03"] = {"en": "0123456789ab", "ko": "코드 셀"}  # a code cell: not translated
    write_workbook(tmp_path, catalogue)
    assert tr.main(["--check"], notebooks_dir=tmp_path) == 1
    out = capsys.readouterr().out
    assert "orphan entry 01-99" in out and "orphan entry 01-03" in out


def test_todo_prints_entries_to_fill_in_that_read_back_as_yaml(tmp_path: Path, capsys) -> None:
    catalogue = full_catalogue()
    del catalogue["01-00"]
    catalogue["01-02"]["en"] = "000000000abc"
    write_workbook(tmp_path, catalogue)
    assert tr.main(["--todo"], notebooks_dir=tmp_path) == 1
    out = capsys.readouterr().out
    assert "01-00:  # missing" in out and "01-02:  # stale" in out
    import yaml

    entries = yaml.safe_load(out)
    assert entries["01-00"]["ko"] == "# 01 · Title\n\nIntro.\n"  # the English, to replace
    assert entries["01-02"]["en"] == tr.english_hash("## Send it")
    assert not (tmp_path / "ko").exists()


def test_todo_says_when_nothing_is_left(tmp_path: Path, capsys) -> None:
    write_workbook(tmp_path, full_catalogue())
    assert tr.main(["--todo"], notebooks_dir=tmp_path) == 0
    assert "up-to-date" in capsys.readouterr().out


def test_a_hash_that_yaml_reads_as_a_number_asks_for_quotes(tmp_path: Path) -> None:
    english = write_workbook(tmp_path, None)
    path = tr.catalogue_path(tmp_path, english)
    path.parent.mkdir(parents=True)
    path.write_text("01-00:\n  en: 123456789012\n  ko: 제목\n", encoding="utf-8")
    with pytest.raises(tr.TranslationError, match="in quotes"):
        tr.load_catalogue(path)


def test_a_parameters_cell_without_the_english_default_is_refused(tmp_path: Path) -> None:
    nb = tiny_notebook()
    nb.cells[1].source = 'target = "local"\n'
    with pytest.raises(tr.TranslationError, match='lang = "en"'):
        tr.translate(nb, full_catalogue())


# -- the Korean notebooks in labkit's commands -------------------------------------------------
@pytest.mark.parametrize("lang, title", [("ko", "# 02 · SNS 주제"), ("en", "# 02 · SNS topic")])
def test_the_student_edition_is_built_from_the_notebooks_of_its_language(
        tmp_path: Path, monkeypatch, lang: str, title: str) -> None:
    import argparse

    from labkit import i18n
    from labkit.classroom import student_edition

    # 02-05: an exercise the nbgrader course written beside the edition has a test for.
    exercise = "r = sns.create_topic(Name='x')"
    for folder, heading in ((tmp_path / "notebooks", "# 02 · SNS topic"),
                            (tmp_path / "notebooks" / "ko", "# 02 · SNS 주제")):
        folder.mkdir(parents=True, exist_ok=True)
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell(heading, id="02-00"),
                    nbformat.v4.new_code_cell(f"### BEGIN SOLUTION\n{exercise}\n"
                                              "### END SOLUTION", id="02-05")]
        nbformat.write(nb, folder / "02_sns_topic.ipynb")
    monkeypatch.chdir(tmp_path)
    parser = argparse.ArgumentParser(prog="labkit")
    student_edition.register_cli(parser.add_subparsers())
    args = parser.parse_args(["student-edition", "--out", str(tmp_path / "handout"),
                              "--lang", lang])
    try:
        assert args.func(args) == 0
    finally:
        i18n.set_language("en")
    built = nbformat.read(tmp_path / "handout" / "notebooks" / "02_sns_topic.ipynb",
                          as_version=4)
    assert built.cells[0].source == title
    assert exercise not in built.cells[1].source


# Markdown links and images: [text](target) or ![alt](target), the target up to a space or ")".
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)")


@pytest.mark.parametrize("notebook", [*ENGLISH, *sorted((NOTEBOOKS_DIR / "ko").glob("*.ipynb"))],
                         ids=lambda p: p.relative_to(NOTEBOOKS_DIR).as_posix())
def test_relative_links_lead_to_files_from_the_notebooks_own_folder(notebook: Path) -> None:
    # A Korean notebook is one folder deeper: ../docs/ from notebooks/ is ../../docs/ from ko/.
    broken = []
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type != "markdown":
            continue
        for target in _LINK.findall(cell.source):
            path = target.split("#")[0]
            if not path or re.match(r"^[a-z][a-z0-9+.-]*:", path):  # an anchor here, or a URL
                continue
            if not (notebook.parent / path).exists():
                broken.append(f"cell {cell.id}: {target}")
    assert not broken, f"{notebook.name} links to files that do not exist: {broken}"


def test_only_narrows_the_notebooks_and_refuses_an_unknown_one(tmp_path: Path, capsys) -> None:
    write_workbook(tmp_path, full_catalogue())
    nbformat.write(tiny_notebook(), tmp_path / "02_other.ipynb")  # no catalogue: refused
    assert tr.main(["--only", "01"], notebooks_dir=tmp_path) == 0
    assert [p.name for p in (tmp_path / "ko").iterdir()] == ["01_tiny.ipynb"]
    assert tr.main(["--only", "07"], notebooks_dir=tmp_path) == 1
    assert "'07'" in capsys.readouterr().err
