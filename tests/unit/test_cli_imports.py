"""What the labkit command loads: only what its subcommand needs, and no IRI grammar."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

_LOADED_AFTER = textwrap.dedent("""
    import json, sys
    from labkit import cli
    if sys.argv[1] == "command":
        cli.skip_the_iri_grammar()
    import nbformat
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    nbformat.validate(notebook)  # the notebook schema still checks
    print(json.dumps({"grammar": sys.modules.get("rfc3987_syntax") is not None,
                      "papermill": "papermill" in sys.modules}))
""")


def loaded(mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", _LOADED_AFTER, mode], capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout)


def test_the_command_validates_notebooks_without_building_the_iri_grammar():
    assert loaded("command") == {"grammar": False, "papermill": False}


def test_without_it_nbformat_builds_the_grammar():
    """What the seam is for: if the grammar stops loading with nbformat, it can go."""
    assert loaded("plain")["grammar"] is True


def test_help_loads_neither_papermill_nor_nbformat():
    script = ("import sys, contextlib, io\nfrom labkit import cli\n"
              "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
              "    cli.main(['--help'])\n"
              "print(sorted(m for m in ('papermill', 'nbformat', 'jsonschema') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
