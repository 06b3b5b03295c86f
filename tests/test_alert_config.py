"""`[alerts]` read and checked at start-up: one clear error naming the key, never a secret."""

from __future__ import annotations

import pytest

from redline.alerting import alert_setup
from redline.config import ConfigError, load_config

TOKEN = "T0KEN-abcdef-SECRET"
HOOK = '[alerts.channels.desk]\nurl = "https://hooks.example.org/redline"\n'
RULE = '[[alerts.rules]]\nname = "headlines"\nwhen = ["headline_changed"]\nchannels = ["desk"]\n'


def setup(tmp_path, text: str, environ: dict[str, str] | None = None):
    path = tmp_path / "redline.toml"
    path.write_text(text)
    return alert_setup(load_config(path, environ={}), environ or {})


def refused(tmp_path, text: str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        setup(tmp_path, text, environ)
    message = str(info.value)
    assert "\n" not in message and TOKEN not in message
    return message


def test_channels_rules_and_delivery_settings_are_read(tmp_path):
    token_file = tmp_path / "slack-url"
    token_file.write_text(f"ntfy://ntfy.example.org/{TOKEN}\n")
    got = setup(
        tmp_path,
        '[alerts]\nmax_attempts = 3\nretry_base = "5s"\ntimeout = "4s"\n'
        '[web]\nbase_url = "https://redline.example.org"\n'
        f'{HOOK}secret_env = "DESK_SECRET"\n'
        f'[alerts.channels.team]\nurl_file = "{token_file}"\nformat = "markdown"\n'
        '[[alerts.rules]]\nname = "gone"\nwhen = ["article_gone", "text_removed"]\n'
        'channels = ["desk", "team"]\npattern = "ceasefire"\nsites = ["Example.com"]\n'
        'mode = "digest"\nevery = "1h"\nconfirm = true\ntitle = "{{ site }}"\n',
        {"DESK_SECRET": "k3y"},
    )
    desk, team = got.channels
    assert (desk.secret, desk.timeout, team.url, team.format) == (
        "k3y",
        4.0,
        f"ntfy://ntfy.example.org/{TOKEN}",
        "markdown",
    )
    assert TOKEN not in repr(got) and "k3y" not in repr(got)
    (rule,) = got.rules
    assert (rule.mode, rule.every.total_seconds(), rule.sites) == (
        "digest",
        3600.0,
        ("example.com",),
    )
    assert rule.pattern.search("the CEASEFIRE holds") and rule.confirm
    assert got.messages["gone"].templates is not None and got.messages["gone"].confirm
    assert (got.delivery.max_attempts, got.delivery.retry_base) == (3, 5.0)
    assert got.delivery.base_url == "https://redline.example.org"


@pytest.mark.parametrize(
    ("text", "environ", "says"),
    [
        (HOOK + RULE.replace('["desk"]', '["nowhere"]'), None,
         "[[alerts.rules]] #1 (headlines) channels: unknown channel 'nowhere' (known: desk)"),
        (HOOK + RULE.replace("headline_changed", "headline_rewritten"), None,
         "when: unknown trigger(s) headline_rewritten"),
        (HOOK + RULE + 'pattern = "cease(fire"\n', None, "pattern: not a regular expression"),
        (HOOK + RULE + 'min_class = "huge"\n', None, "min_class: one of cosmetic, minor"),
        (HOOK + RULE + 'mode = "digest"\n', None, 'every: a digest needs a period'),
        (HOOK + RULE + RULE, None, "name 'headlines' is used by two rules"),
        (HOOK + RULE + "colour = 'red'\n", None, "#1 colour: unknown setting (known: "),
        (HOOK + 'secret_env = "DESK_SECRET"\n' + RULE, None,
         "[alerts.channels.desk] secret_env: the environment variable DESK_SECRET is not set"),
        (HOOK + f'secret = "{TOKEN}"\n' + RULE, None, "a secret never goes in the file"),
        (f'[alerts.channels.desk]\nurl = "slack://{TOKEN}"\n' + RULE, None,
         "[alerts.channels.desk] url: "),
        ('[alerts.channels.desk]\nurl_env = "DESK_URL"\n' + RULE, {"DESK_URL": "nosuch://x"},
         "[alerts.channels.desk] url"),
        ('[alerts.channels.desk]\nurl = "json://127.0.0.1/x"\nsecret_env = "S"\n' + RULE,
         {"S": TOKEN}, "[alerts.channels.desk]"),
        (HOOK + RULE + 'title = "{{ headline"\n', None, "templates:"),
        (HOOK + RULE + "body = \"{{ ''.__class__.__mro__ }}\"\n", None, "templates:"),
        (HOOK + RULE + 'title = "{{ no_such_variable }}"\n', None, "templates:"),
        ('[alerts]\nmax_attempts = 0\n', None, "max_attempts: must be a whole number"),
        ('[web]\nbase_url = "ftp://x"\n' + HOOK + RULE, None, "[web] base_url"),
    ],
)  # fmt: skip
def test_a_bad_alert_setting_is_one_line_naming_its_key(tmp_path, text, environ, says):
    assert says in refused(tmp_path, text, environ)


def test_no_alert_section_is_no_alerts(tmp_path):
    got = setup(tmp_path, "")
    assert got.channels == () and got.rules == ()
