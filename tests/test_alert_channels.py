"""Channels against real receivers on 127.0.0.1: an HTTP server in a thread (webhooks and
Apprise json://), a socket that never answers, and a real SMTP server (aiosmtpd) for mailto://."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from redline.scheduler.alerts.channels import (
    AppriseChannel,
    Channel,
    ConsoleChannel,
    DeliveryError,
    WebhookChannel,
    build_channel,
    encode_payload,
    mask_url,
)
from redline.scheduler.alerts.facts import sample_facts
from redline.scheduler.alerts.messages import Message, build_message
from tests.receivers import Mailbox, SmtpReceiver, WebhookReceiver, free_port

SECRET = "s3cret-signing-key"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as got:
        yield got


@pytest.fixture
def smtp() -> Iterator[tuple[int, Mailbox]]:
    with SmtpReceiver() as server:
        yield server.port, server.mailbox


def message(*, test: bool = False) -> Message:
    return build_message(
        [sample_facts()], rule="desk", templates=None, idempotency_key="desk:1:3", test=test
    )


def deliver(channel: Channel, sent: Message) -> None:
    """Send on a fresh loop (as `redline alerts deliver` does) and close the channel."""

    async def run() -> None:
        try:
            await channel.send(sent)
        finally:
            await channel.close()

    asyncio.run(run())


# --- webhooks ------------------------------------------------------------------------------------


def test_webhook_arrives_once_signed(receiver):
    channel = build_channel("hook", receiver.url("/hook?token=abc", scheme="http"), secret=SECRET)
    assert isinstance(channel, WebhookChannel)
    sent = message()
    before = int(time.time())
    deliver(channel, sent)
    (request,) = receiver.requests
    assert request.path == "/hook?token=abc"
    expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["x-redline-signature"], expected)
    assert request.headers["idempotency-key"] == "desk:1:3"
    assert before <= int(request.headers["x-redline-timestamp"]) <= int(time.time())
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("Redline/")
    payload = json.loads(request.body.decode("utf-8"))
    assert payload == sent.payload
    assert payload["new_headline"] == "Council approves revised city budget"
    assert request.body == encode_payload(sent.payload)  # compact UTF-8 JSON, as signed


def test_webhook_without_secret_is_not_signed(receiver):
    deliver(build_channel("hook", receiver.url("/plain", scheme="http")), message())
    (request,) = receiver.requests
    assert "x-redline-signature" not in request.headers


@pytest.mark.parametrize(("status", "error"), [(500, "HTTP 500"), (404, "HTTP 404")])
def test_webhook_error_status(receiver, status, error):
    receiver.status = status
    channel = build_channel("hook", receiver.url("/hook/tok3n", scheme="http"), secret=SECRET)
    with pytest.raises(DeliveryError, match=f"^{error}$"):
        deliver(channel, message())
    assert len(receiver.requests) == 1


def test_webhook_redirect_is_not_followed(receiver):
    receiver.status = 302
    with pytest.raises(DeliveryError, match="HTTP 302"):
        deliver(build_channel("hook", receiver.url("/hook", scheme="http")), message())
    assert [r.path for r in receiver.requests] == ["/hook"]


def test_webhook_that_never_answers_times_out():
    with socket.socket() as silent:  # accepts connections (backlog) but never reads or answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/hook?token=abc"
        channel = build_channel("hook", url, timeout=0.5)
        started = time.monotonic()
        with pytest.raises(DeliveryError, match=r"^timed out after 0\.5 s$"):
            deliver(channel, message())
        assert time.monotonic() - started < 3


def test_webhook_connection_refused():
    port = free_port()  # nothing listens there any more
    with pytest.raises(DeliveryError, match=r"^connection refused$") as raised:
        deliver(build_channel("hook", f"http://127.0.0.1:{port}/h?token=abc"), message())
    assert "token" not in str(raised.value) and raised.value.__cause__ is None


def test_webhook_session_is_reused_on_one_loop(receiver):
    channel = build_channel("hook", receiver.url("/hook", scheme="http"))

    async def run() -> None:
        try:
            await channel.send(message())
            await channel.send(message())
        finally:
            await channel.close()

    asyncio.run(run())
    asyncio.run(run())  # a later loop gets a session of its own
    assert len(receiver.requests) == 4


# --- Apprise -------------------------------------------------------------------------------------


def test_apprise_json_reaches_the_receiver(receiver):
    channel = build_channel("json", receiver.url("/apprise/path", scheme="json"))
    assert isinstance(channel, AppriseChannel)
    sent = message()
    deliver(channel, sent)
    (request,) = receiver.requests
    assert request.path == "/apprise/path"
    body = json.loads(request.body)
    assert body["title"] == sent.title and body["message"] == sent.text


def test_apprise_failure_is_a_delivery_error_without_secrets(receiver):
    receiver.status = 500
    channel = build_channel("json", receiver.url("/hook/SecretPathToken", scheme="json"))
    with pytest.raises(DeliveryError, match="apprise failure") as raised:
        deliver(channel, message())
    assert "SecretPathToken" not in str(raised.value)


def test_slow_apprise_does_not_block_the_loop_nor_its_thread_pool(receiver):
    receiver.hold = threading.Event()
    channel = build_channel("json", receiver.url("/slow", scheme="json"), timeout=10)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(max_workers=1))
        arrived = asyncio.Event()
        receiver.on_arrival = lambda: loop.call_soon_threadsafe(arrived.set)
        sending = asyncio.create_task(channel.send(message()))
        try:
            await asyncio.wait_for(arrived.wait(), 5)  # the loop ran while Apprise waited
            assert not sending.done()
            # The default pool (one thread) is free: the send is not in it.
            assert await asyncio.wait_for(loop.run_in_executor(None, lambda: 42), 5) == 42
            assert receiver.hold is not None
            receiver.hold.set()
            await asyncio.wait_for(sending, 5)
        finally:
            receiver.hold.set()
            await channel.close()

    asyncio.run(run())
    assert len(receiver.requests) == 1


def test_slow_apprise_times_out(receiver):
    receiver.hold = threading.Event()
    channel = build_channel("json", receiver.url("/slow", scheme="json"), timeout=0.5)
    started = time.monotonic()
    with pytest.raises(DeliveryError, match=r"^timed out after 0\.5 s$"):
        deliver(channel, message())
    assert time.monotonic() - started < 3


def test_mailto_delivers_one_html_email(smtp):
    port, mailbox = smtp
    url = f"mailto://127.0.0.1:{port}?mode=insecure&from=redline@example.org&to=desk@example.org"
    sent = message()
    deliver(build_channel("mail", url), sent)
    (mail,) = mailbox.messages
    assert mailbox.envelopes == [("redline@example.org", ["desk@example.org"])]
    assert mail["Subject"] == sent.title
    assert "Council approves revised city budget" in mail["Subject"]
    html = mail.get_body(preferencelist=("html",))
    assert html is not None
    content = html.get_content()
    assert "<del>" in content and "<ins> revised</ins>" in content
    assert "https://redline.example.org/articles/1/diff/2/3" in content


def test_mailto_body_format_can_be_text(smtp):
    port, mailbox = smtp
    url = f"mailto://127.0.0.1:{port}?mode=insecure&from=r@example.org&to=d@example.org"
    sent = message()
    deliver(build_channel("mail", url, body_format="text"), sent)
    (mail,) = mailbox.messages
    text = mail.get_body(preferencelist=("plain",))
    assert text is not None and "{+ revised+}" in text.get_content()
    assert mail.get_body(preferencelist=("html",)) is None


# --- building channels ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["slack://T1JJ3T3L2/B1SECRETTOKEN", "nosuchscheme://S3cretT0ken/x", "json://", "not a url"],
)
def test_unusable_apprise_urls_are_refused_with_the_url_masked(url):
    with pytest.raises(ValueError, match=r"channel alerts: not a usable Apprise URL \(") as raised:
        build_channel("alerts", url)
    assert "SECRET" not in str(raised.value) and "S3cret" not in str(raised.value)


def test_a_secret_needs_an_http_url():
    with pytest.raises(ValueError, match="secret"):
        build_channel("j", "json://127.0.0.1:9/hook", secret=SECRET)


@pytest.mark.parametrize("bad", [{"body_format": "rtf"}, {"timeout": 0}])
def test_bad_options_are_refused(bad):
    with pytest.raises(ValueError):
        build_channel("j", "json://127.0.0.1:9/hook", **bad)


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (
            "https://user:pw@hooks.example.org:8443/services/T0/B0/XYZ?x=1",
            "https://***@hooks.example.org:8443/...",
        ),
        ("https://hooks.example.org", "https://hooks.example.org"),
        ("slack://TokenA/TokenB/TokenC", "slack://..."),
        ("tgram://123456:AAbbCC/987", "tgram://..."),
        ("ntfy://secret-topic", "ntfy://..."),
        ("mailtos://me:passw0rd@mail.example.org?to=a@b.org", "mailtos://***@mail.example.org/..."),
        ("json://127.0.0.1:8080/hook", "json://127.0.0.1:8080/..."),
        ("no scheme at all", "..."),
    ],
)
def test_mask_url(url, masked):
    assert mask_url(url) == masked


def test_descriptions_and_reprs_are_masked(receiver):
    hook = build_channel("hook", receiver.url("/services/T0/B0/XYZtoken", scheme="http"))
    mail = build_channel("mail", "mailto://me:passw0rd@mail.example.org?to=a@example.org")
    for channel in (hook, mail):
        shown = f"{channel.describe()} {channel!r}"
        assert "XYZtoken" not in shown and "passw0rd" not in shown
    assert hook.describe() == f"http://127.0.0.1:{receiver.port}/..."
    asyncio.run(mail.close())


def test_console_channel_writes_title_and_text():
    stream = io.StringIO()
    sent = message(test=True)
    deliver(ConsoleChannel("console", stream), sent)
    assert stream.getvalue() == f"{sent.title}\n\n{sent.text}\n\n"
    assert stream.getvalue().startswith("[TEST] ")


def test_a_console_url_writes_to_standard_output_with_scraped_controls_escaped(capsys):
    channel = build_channel("demo", "console://")
    sent = replace(message(), title="Headline \x1b[2Jchanged", text="\u202eevil\u202c, a bell \x07")
    deliver(channel, sent)
    out = capsys.readouterr().out
    assert out == "Headline \\x1b[2Jchanged\n\n\\u202eevil\\u202c, a bell \\x07\n\n"
    assert channel.describe() == "console://"
    deliver(build_channel("err", "console://stderr"), message())
    assert capsys.readouterr().err.startswith(message().title)


@pytest.mark.parametrize(
    "url, options",
    [
        ("console://somewhere", {}),
        ("console://", {"secret": "k"}),
        ("console://", {"body_format": "html"}),
    ],
)
def test_a_console_channel_takes_no_target_secret_or_html(url, options):
    with pytest.raises(ValueError, match="console://"):
        build_channel("demo", url, **options)
