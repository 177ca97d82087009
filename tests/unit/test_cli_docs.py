"""docs/cli.md is generated from the Typer app and must be current; every command's exit codes are
documented (in --help and in the one table)."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from netha.cli import docs
from netha.cli.exitcodes import EXIT_CODES
from netha.cli.main import app

runner = CliRunner()


def _command_paths() -> set[str]:
    root = typer.main.get_command(app)
    ctx = root.context_class(root, info_name="netha")
    return {" ".join(path) for path, cmd, _ in docs._commands(root, ctx, ()) if docs._runs(cmd)}


def test_docs_cli_md_is_current():
    current = docs.DOC.read_text() if docs.DOC.exists() else ""
    assert current == docs.render(), (
        f"docs/cli.md is not current (the CLI changed): regenerate it with `{docs.REGENERATE}` and commit it")


def test_docs_check_mode_fails_on_a_stale_file(tmp_path, monkeypatch, capsys):
    stale = tmp_path / "cli.md"
    stale.write_text(docs.render().replace("## netha status", "## netha statuz"))
    monkeypatch.setattr(docs, "DOC", stale)
    assert docs.main(["--check"]) == 1
    assert docs.REGENERATE in capsys.readouterr().err
    assert docs.main(["--write"]) == 0
    assert docs.main(["--check"]) == 0


def test_every_command_and_option_is_in_the_generated_docs():
    text = docs.render()
    for path in _command_paths():
        assert f"netha {path}\n" in text, path
    for option in ("`--group`, `-g`", "`--device`, `-d`", "`--last`, `-n`", "`--install-completion`", "`--offline`"):
        assert option in text, option
    assert "`--limit`" not in text  # hidden alias, not advertised


def test_exit_code_table_has_a_row_for_every_command():
    text = docs.render()
    table = text[text.index("## Exit codes"):text.index("## Global options")]
    for path in _command_paths():
        assert f"| `netha {path}` |" in table, path


def test_exit_code_registry_names_only_commands_that_exist():
    assert set(EXIT_CODES) <= _command_paths(), set(EXIT_CODES) - _command_paths()


def test_help_of_each_command_ends_with_its_exit_codes():
    for args, expected in ((["status", "--help"], "3 UNKNOWN"), (["backup", "--help"], "1 at least one device failed"),
                           (["lab", "status", "--help"], "1 the lab is down")):
        r = runner.invoke(app, args, terminal_width=200)
        assert r.exit_code == 0, r.output
        assert "Exit codes:" in r.output and expected in r.output, r.output


def test_every_command_with_json_has_its_document_indexed_in_cli_json_md():
    root = typer.main.get_command(app)
    ctx = root.context_class(root, info_name="netha")
    text = (docs.DOC.parent / "cli-json.md").read_text()
    index = text[:text.index("\n## ")]
    with_json = [" ".join(path) for path, cmd, _ in docs._commands(root, ctx, ())
                 if any("--json" in p.opts for p in cmd.params)]
    assert "backup" in with_json and "lab status" in with_json
    missing = [c for c in with_json if f"`{c}`" not in index]
    assert not missing, f"commands with --json whose document docs/cli-json.md does not list: {missing}"
