"""Messages people read in a second: a title, a text body, an HTML body and a webhook payload.

`build_message(entries, ...)` turns AlertFacts into one Message. One entry is an immediate alert;
several entries about ONE article are a quiet merge of a burst of edits (the first old headline,
the last new headline, every change); entries about several articles are a digest (one block per
article). The same values feed the payload, the default messages and a rule's own templates.

Webhook payload (JSON; every key always present, null when it does not apply; docs/alerts.md):
  rule, kind (main kind), kinds, label ("Headline changed"), article_id, url, site, headline,
  old_headline, new_headline, headline_changed, old_title, new_title, title_changed (the SEO or
  social title, when the revision changed it), revision, previous_revision, fetched_at (ISO 8601,
  UTC), fetched ("2026-11-27 12:00 UTC"), event, event_detail, changes (list of {field, label,
  kind, class, summary, words_added, words_removed, added, removed, notes, stealth, revision,
  diff, diff_html}), more_changes, diff, diff_html (the first change's excerpt), diff_url,
  digest, count, entries (one object with the article keys above per merged alert, or per
  article in a digest), more_entries, idempotency_key, test.
  In a digest the article keys (url, site, headlines, revisions, changes...) are null or empty.

Templates (a rule's `title` and `body`, Jinja2): the variables are exactly the payload keys:

  | variable | meaning |
  |---|---|
  | label, kind, kinds | what happened: "Headline changed", "headline_changed", all kinds |
  | site, url, headline, old_headline, new_headline, headline_changed | the article |
  | old_title, new_title, title_changed | its SEO or social title, when it changed |
  | revision, previous_revision, fetched, fetched_at, event, event_detail | when, which version |
  | changes[] .label .summary .class .kind .added .removed .words_added .words_removed .diff | |
  | diff, diff_url, more_changes | the first change's word diff; the diff page |
  | digest, count, entries, more_entries, rule, test, idempotency_key | the message |

A template is configuration; scraped text inside it is data, never evaluated. Templates run in
Jinja's immutable sandbox with no loader (no include/import/extend), StrictUndefined, None shown
as "". Titles and text bodies render with autoescape OFF, every variable's text stripped of
control characters (C0/C1 but \\n and \\t) and bidi controls, the title folded to one line. The
body also renders with autoescape ON for the HTML version (`diff` is then <del>/<ins> markup),
wrapped in a white-space: pre-wrap <div>. A test message is marked outside any template.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup, escape

from redline.scheduler.alerts.facts import (
    AlertFacts,
    entry_payload,
    fetched_text,
    main_kind,
    merge_facts,
    ordered_kinds,
    sample_facts,
)

MAX_ENTRIES = 30  # articles listed in a digest; the others are counted in `more_entries`
MAX_TITLE = 250
MAX_TEXT = 16_000
TEST_LINE = "[TEST] This is a test message from Redline: no article changed."
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_FORBIDDEN = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)


@dataclass(frozen=True, slots=True)
class Message:
    """One message, ready for any channel. `template_error` says why a rule's templates failed
    on this message (the defaults were used instead): the caller logs it."""

    title: str
    text: str
    html: str
    payload: dict[str, Any] = field(hash=False)
    idempotency_key: str
    template_error: str | None = None


@dataclass(frozen=True, slots=True)
class Templates:
    """A rule's compiled templates; None parts fall back to the defaults."""

    title: Template | None = None
    text: Template | None = None
    html: Template | None = None
    wrap_html: bool = True  # a text-like body shown in HTML keeps its line breaks


def _blank(value: Any) -> Any:
    return "" if value is None else value


def _environment(autoescape: bool) -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        autoescape=autoescape,
        undefined=StrictUndefined,
        finalize=_blank,
        trim_blocks=True,
        lstrip_blocks=True,
    )


TEXT_ENV = _environment(autoescape=False)
HTML_ENV = _environment(autoescape=True)


def _compile(env: ImmutableSandboxedEnvironment, source: str | None, name: str) -> Template | None:
    if source is None or not source.strip():  # an empty template means "the default"
        return None
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as exc:
        raise ValueError(f"{name} template, line {exc.lineno}: {exc.message}") from None
    if any(True for _ in tree.find_all(_FORBIDDEN)):
        raise ValueError(f"{name} template: include, import and extends are not allowed")
    return env.from_string(source)


def compile_templates(title: str | None, body: str | None, html: str | None = None) -> Templates:
    """Compile a rule's templates once; ValueError on a syntax error. `html`, when given, is a
    separate HTML body; otherwise the body serves both (escaped and wrapped for HTML)."""
    return Templates(
        title=_compile(TEXT_ENV, title, "title"),
        text=_compile(TEXT_ENV, body, "body"),
        html=_compile(HTML_ENV, html if html is not None else body, "html" if html else "body"),
        wrap_html=html is None,
    )


def check_templates(templates: Templates) -> None:
    """Render the templates against sample facts in every message shape (immediate, quiet
    merge, digest, event) so an unknown variable or a sandbox escape fails at start-up."""
    for shape in _sample_shapes():
        payload = message_payload(shape, rule="sample", idempotency_key="sample", test=False)
        try:
            _render(templates, payload)
        except Exception as exc:
            raise ValueError(f"template refused: {_reason(exc)}") from None


def _sample_shapes() -> list[list[AlertFacts]]:
    one = sample_facts()
    earlier = replace(one, revision=2, previous_revision=1)
    other = replace(one, article_id=2, article_url=f"{one.article_url}-2", revision=5)
    gone = replace(
        one,
        article_id=3,
        kinds=("article_gone",),
        revision=None,
        previous_revision=None,
        old_headline=None,
        event="gone",
        event_detail="HTTP 410",
        changes=(),
    )
    return [[one], [earlier, one], [one, other, gone], [gone]]


def _reason(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def build_message(
    entries: Sequence[AlertFacts],
    *,
    rule: str,
    templates: Templates | None,
    idempotency_key: str,
    test: bool = False,
) -> Message:
    """One message for the entries: immediate (one), quiet merge (one article) or digest."""
    if not entries:
        raise ValueError("a message needs at least one alert")
    payload = message_payload(entries, rule=rule, idempotency_key=idempotency_key, test=test)
    error = None
    try:
        title, text, html = _render(templates or DEFAULTS, payload)
    except Exception as exc:  # a template that fails on this message: the defaults still speak
        title, text, html = _render(DEFAULTS, payload)
        error = _reason(exc)
    if test:
        title, text = f"[TEST] {title}", f"{TEST_LINE}\n\n{text}"
        html = f"<p><strong>{escape(TEST_LINE)}</strong></p>\n{html}"
    return Message(title, text, html, payload, idempotency_key, template_error=error)


def message_payload(
    entries: Sequence[AlertFacts], *, rule: str, idempotency_key: str, test: bool
) -> dict[str, Any]:
    """The webhook payload, which is also what templates see (before cleaning)."""
    groups: dict[int, list[AlertFacts]] = {}
    for entry in entries:
        groups.setdefault(entry.article_id, []).append(entry)
    if len(groups) == 1:
        ordered = sorted(entries, key=lambda e: e.fetched_at)
        head = entry_payload(merge_facts(ordered))
        items, count = [entry_payload(e) for e in ordered], len(ordered)
    else:
        merged = [merge_facts(group) for group in groups.values()]
        head = _digest_head(merged)
        items, count = [entry_payload(m) for m in merged[:MAX_ENTRIES]], len(merged)
    return head | {
        "rule": rule,
        "digest": len(groups) > 1,
        "count": count,
        "entries": items,
        "more_entries": count - len(items),
        "idempotency_key": idempotency_key,
        "test": test,
    }


def _digest_head(merged: list[AlertFacts]) -> dict[str, Any]:
    latest = max(merged, key=lambda m: m.fetched_at)
    kinds = ordered_kinds([k for m in merged for k in m.kinds])
    blank = dict.fromkeys(entry_payload(latest))
    return blank | {
        "kind": main_kind(kinds),
        "kinds": list(kinds),
        "label": f"{len(merged)} articles changed",
        "headline_changed": False,
        "title_changed": False,
        "fetched_at": entry_payload(latest)["fetched_at"],
        "fetched": fetched_text(latest.fetched_at),
        "changes": [],
        "more_changes": 0,
        "diff": "",
        "diff_html": "",
    }


def clean(value: Any) -> Any:
    """Scraped text made safe to show: control and bidi characters removed, everywhere."""
    if isinstance(value, str):
        return _UNSAFE.sub("", value)
    if isinstance(value, list):
        return [clean(item) for item in value]
    if isinstance(value, dict):
        return {key: clean(item) for key, item in value.items()}
    return value


def _html_context(value: Any) -> Any:
    """Cleaned values, with each diff excerpt as markup (rendered from escaped text)."""
    if isinstance(value, list):
        return [_html_context(item) for item in value]
    if not isinstance(value, dict):
        return value
    out = {key: _html_context(item) for key, item in value.items()}
    if "diff_html" in out:
        out["diff"] = out["diff_html"] = Markup(out["diff_html"])
    return out


def _render(templates: Templates, payload: dict[str, Any]) -> tuple[str, str, str]:
    text_context = clean(payload)
    html_context = _html_context(text_context)
    title = _pick(templates.title, DEFAULTS.title).render(text_context)
    text = _pick(templates.text, DEFAULTS.text).render(text_context)
    html = _pick(templates.html, DEFAULTS.html).render(html_context).strip()
    if templates.wrap_html and templates.html is not None:
        html = f'<div style="white-space: pre-wrap">{html}</div>'
    return _one_line(title), _cap(text.strip(), MAX_TEXT), html


def _pick(template: Template | None, default: Template | None) -> Template:
    chosen = template or default
    assert chosen is not None  # DEFAULTS has all three
    return chosen


def _one_line(title: str) -> str:
    return _cap(" ".join(title.split()), MAX_TITLE)


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


_HEADLINES = (
    "{% if headline_changed %}“{{ old_headline|truncate(100, end='…') }}” → "
    "“{{ new_headline|truncate(100, end='…') }}”"
    "{% elif title_changed %}“{{ old_title|truncate(100, end='…') }}” → "
    "“{{ new_title|truncate(100, end='…') }}”"
    "{% else %}{{ (headline or url)|truncate(160, end='…') }}{% endif %}"
)
DEFAULT_TITLE = (
    "{% if digest %}Redline: {{ label }} ({{ rule }})"
    "{% else %}[{{ site }}] {{ label }}{% if count > 1 %} ({{ count }} edits){% endif %}: "
    + _HEADLINES
    + "{% endif %}"
)
DEFAULT_TEXT = """\
{% macro change_lines(changes, more) %}
{% for c in changes %}
- {{ c.label }} ({{ c.summary }}; +{{ c.words_added }}/-{{ c.words_removed }} words):
  {{ c.diff }}
{% endfor %}
{% if more %}
… and {{ more }} more change{{ 's' if more > 1 }}
{% endif %}
{% endmacro %}
{% if digest %}
{{ label }} (rule {{ rule }}, last fetched {{ fetched }})
{% for e in entries %}

{{ loop.index }}. [{{ e.site }}] {{ e.label }}: {{ e.headline or e.url }}
{% if e.headline_changed %}
   was: {{ e.old_headline }}
{% endif %}
{% if e.title_changed %}
   title: {{ e.old_title }} → {{ e.new_title }}
{% endif %}
   {{ e.url }}{% if e.diff_url %} (diff: {{ e.diff_url }}){% endif %}

{% if e.changes %}
{{ change_lines(e.changes, e.more_changes)|trim|indent(3, first=True) }}
{% endif %}
{% endfor %}
{% if more_entries %}

… and {{ more_entries }} more articles
{% endif %}
{% else %}
{{ label }} on {{ site }}
{% if headline_changed %}
Old headline: {{ old_headline }}
New headline: {{ new_headline }}
{% elif headline %}
Headline: {{ headline }}
{% endif %}
{% if title_changed %}
Old title: {{ old_title }}
New title: {{ new_title }}
{% endif %}
{% if event_detail %}
{{ event|capitalize }}: {{ event_detail }}
{% endif %}
{% if revision %}
Revision {% if previous_revision %}{{ previous_revision }} → {% endif %}{{ revision }}, \
fetched {{ fetched }}
{% else %}
Seen {{ fetched }}
{% endif %}
{{ change_lines(changes, more_changes) }}
Article: {{ url }}
{% if diff_url %}
Diff: {{ diff_url }}
{% endif %}
{% endif %}
"""
DEFAULT_HTML = """\
<style>del{background:#fdd;color:#900}ins{background:#dfd;color:#060;text-decoration:none}</style>
{% macro change_list(changes, more) %}
{% if changes %}
<ul>
{% for c in changes %}
<li><strong>{{ c.label }}</strong> ({{ c.summary }}; +{{ c.words_added }}/-{{ c.words_removed }} \
words)<br><span style="white-space: pre-wrap">{{ c.diff }}</span></li>
{% endfor %}
{% if more %}<li>… and {{ more }} more change{{ 's' if more > 1 }}</li>{% endif %}
</ul>
{% endif %}
{% endmacro %}
{% macro links(url, diff_url) %}
<a href="{{ url }}">Article</a>{% if diff_url %} · <a href="{{ diff_url }}">Diff</a>{% endif %}
{% endmacro %}
{% if digest %}
<p><strong>{{ label }}</strong> (rule {{ rule }}, last fetched {{ fetched }})</p>
<ol>
{% for e in entries %}
<li><p>[{{ e.site }}] <strong>{{ e.label }}</strong>: {% if e.headline_changed %}\
<del>{{ e.old_headline }}</del> → <ins>{{ e.new_headline }}</ins>\
{% else %}{{ e.headline or e.url }}{% endif %}<br>{% if e.title_changed %}\
Title: <del>{{ e.old_title }}</del> → <ins>{{ e.new_title }}</ins><br>{% endif %}\
{{ links(e.url, e.diff_url) }}</p>
{{ change_list(e.changes, e.more_changes) }}</li>
{% endfor %}
</ol>
{% if more_entries %}<p>… and {{ more_entries }} more articles</p>{% endif %}
{% else %}
<p><strong>{{ label }}</strong> on {{ site }}</p>
{% if headline_changed %}
<p>Old headline: <del>{{ old_headline }}</del><br>New headline: <ins>{{ new_headline }}</ins></p>
{% elif headline %}
<p>Headline: {{ headline }}</p>
{% endif %}
{% if title_changed %}
<p>Old title: <del>{{ old_title }}</del><br>New title: <ins>{{ new_title }}</ins></p>
{% endif %}
{% if event_detail %}<p>{{ event|capitalize }}: {{ event_detail }}</p>{% endif %}
<p>{% if revision %}Revision {% if previous_revision %}{{ previous_revision }} → {% endif %}\
{{ revision }}, fetched {{ fetched }}{% else %}Seen {{ fetched }}{% endif %}</p>
{{ change_list(changes, more_changes) }}
<p>{{ links(url, diff_url) }}</p>
{% endif %}
"""


def _defaults() -> Templates:
    html = HTML_ENV.from_string(DEFAULT_HTML)
    title, text = TEXT_ENV.from_string(DEFAULT_TITLE), TEXT_ENV.from_string(DEFAULT_TEXT)
    return Templates(title, text, html, wrap_html=False)


DEFAULTS = _defaults()
