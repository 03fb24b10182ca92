"""Docs that cannot rot: every setting is documented, every README command exists."""

import re

from typer.main import get_command

from rag.cli import app
from rag.settings import Settings

from conftest import ROOT

README = (ROOT / "README.md").read_text()


def test_every_setting_is_documented_in_the_readme():
    missing = [f"RAG_{name.upper()}" for name in Settings.model_fields if f"`RAG_{name.upper()}`" not in README]
    assert not missing, f"settings missing from README.md: {missing}"


def test_every_setting_has_a_description():
    assert all(f.description for f in Settings.model_fields.values())


def test_readme_commands_exist_with_their_options():
    commands = get_command(app).commands
    used = re.findall(r"^\s*(?:\$ )?(?:\.venv/bin/)?rag (\w+)([^\n#]*)", README, flags=re.M)
    assert used, "README shows no rag command"
    for name, rest in used:
        assert name in commands, f"README uses unknown command `rag {name}`"
        known = {opt for p in commands[name].params for opt in p.opts}
        for opt in re.findall(r"(?<!\S)(--[\w-]+)", rest):
            assert opt in known, f"README uses unknown option `rag {name} {opt}`"


def test_the_two_newcomer_commands_come_first_and_exist_in_the_makefile():
    head = "\n".join(README.splitlines()[:30])
    assert "make run" in head and "make test" in head
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^run:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
