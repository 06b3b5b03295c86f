"""The README stays true: its two set-up commands, CI's test command, every CLI command."""

from __future__ import annotations

import re

import click

from redline.cli import cli
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def setup_commands() -> list[str]:
    block = re.search(r"## Quick start\n(.*?)\n## ", README, re.S)
    assert block, "README needs a '## Quick start' section"
    return re.findall(r"```sh\n(.*?)\n```", block.group(1), re.S)


def test_exactly_two_setup_commands():
    commands = setup_commands()
    assert len(commands) == 2
    assert "redline" in commands[0] and "pytest" in commands[1]


def test_ci_runs_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    test_command = setup_commands()[1].split("&&")[-1].strip()
    assert test_command.replace(".venv/bin/", "") in ci.replace(".venv/bin/", "")


def _all_commands(group: click.Group, prefix: str = "redline") -> list[str]:
    names = []
    for name, command in group.commands.items():
        names.append(f"{prefix} {name}")
        if isinstance(command, click.Group):
            names.extend(_all_commands(command, f"{prefix} {name}"))
    return names


def test_every_cli_command_is_documented():
    missing = [name for name in _all_commands(cli) if f"`{name}" not in README]
    assert missing == [], "document these commands in README.md's CLI reference"


def test_every_test_the_readme_names_exists():
    """A promise names its tests: each name and file must be there (renamed tests break it)."""
    names = set(re.findall(r"`(test_\w+)`", README))
    files = set(re.findall(r"`(tests/\w+\.py)`", README))
    source = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "tests").glob("test_*.py"))
    missing = sorted(n for n in names if f"def {n}(" not in source)
    missing += sorted(f for f in files if not (REPO / f).exists())
    assert missing == []


def test_the_example_configuration_is_valid(tmp_path):
    """Every key the example file sets (commented keys included, once uncommented) is known."""
    from redline.alerting import alert_setup
    from redline.config import load_config

    example = (REPO / "deploy" / "redline.example.toml").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^# ?(\[|[a-z_]+ = )", r"\1", example)  # "#   or: ..." stays out
    (tmp_path / "redline.toml").write_text(text, encoding="utf-8")
    config = load_config(tmp_path / "redline.toml", environ={})
    setup = alert_setup(
        config, {"NEWSDESK_SECRET": "k", "TEAM_SLACK_URL": "json://127.0.0.1:9/hook"}
    )
    assert [r.name for r in setup.rules] == ["headlines", "daily"]
    assert [s["kind"] for s in config.sources] == ["feed", "page"]
    assert config.crawl and config.policy and config.profiles and config.web
