"""Ways the local news site can misbehave, one `Fault` value per way.

Each fault is what a hostile or broken server really does on the wire: a 500, a socket that never
answers, a body dripping one byte at a time, a TCP reset, 429 with Retry-After, redirect loops,
a redirect into private address space, a huge body, a decompression bomb. Tests switch them on
per path with `NewsSite.misbehave(path, fault)`.
"""

from __future__ import annotations

import functools
import socket
import struct
import threading
import zlib
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

import brotli
import zstandard

_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Fault:
    """How to answer instead of the real page. Build with the class methods."""

    kind: str
    status: int = 500
    headers: tuple[tuple[str, str], ...] = ()
    location: str = ""
    size: int = 0
    encoding: str = ""
    interval: float = 0.2
    content_length: bool = True

    @classmethod
    def error(cls, status: int = 500, **headers: str) -> Fault:
        return cls("status", status=status, headers=tuple(headers.items()))

    @classmethod
    def hang(cls) -> Fault:
        """Accept the connection and never answer (until the site stops)."""
        return cls("hang")

    @classmethod
    def drip(cls, interval: float = 0.2) -> Fault:
        """Send headers, then one byte of body per `interval` seconds, forever."""
        return cls("drip", interval=interval)

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Wait `seconds`, then serve the real page: slow but healthy."""
        return cls("slow", interval=seconds)

    @classmethod
    def close(cls) -> Fault:
        """Close the connection cleanly (FIN) without sending a status line."""
        return cls("close")

    @classmethod
    def reset(cls, *, after_headers: bool = False) -> Fault:
        """Close with a TCP RST, before the status line or halfway through the body."""
        return cls("reset", content_length=after_headers)

    @classmethod
    def retry_after(cls, value: str, status: int = 429) -> Fault:
        return cls("status", status=status, headers=(("Retry-After", value),))

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Fault:
        """Redirect anywhere, e.g. to http://169.254.169.254/ or to another loopback server."""
        return cls("redirect", status=status, location=location)

    @classmethod
    def redirect_loop(cls) -> Fault:
        """A -> A?loop -> A -> ... forever."""
        return cls("loop", status=302)

    @classmethod
    def giant(cls, size: int, *, content_length: bool = True) -> Fault:
        return cls("giant", size=size, content_length=content_length)

    @classmethod
    def bomb(cls, encoding: str, size: int = 32 * 2**20) -> Fault:
        """`size` bytes of zeros compressed with `encoding`: gzip, deflate, deflate-raw, br,
        zstd, or a list such as "gzip, gzip" (applied left to right)."""
        return cls("bomb", size=size, encoding=encoding)

    @classmethod
    def truncated(cls) -> Fault:
        """Promise more bytes in Content-Length than are sent, then close."""
        return cls("truncated")

    def serve(self, handler: BaseHTTPRequestHandler, stopping: threading.Event) -> bool:
        """Answer in place of the page; False when the real page should follow (`slow`)."""
        if self.kind == "slow":
            stopping.wait(self.interval)
            return False
        getattr(self, f"_serve_{self.kind}")(handler, stopping)
        return True

    def _serve_status(self, handler, stopping) -> None:
        body = f"<html><body><h1>Error {self.status}</h1></body></html>".encode()
        _respond(handler, self.status, body, self.headers)

    def _serve_hang(self, handler, stopping) -> None:
        stopping.wait()
        handler.close_connection = True

    def _serve_drip(self, handler, stopping) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        try:
            handler.wfile.write(b"<html><body>")
            while not stopping.wait(self.interval):
                handler.wfile.write(b"x")
        except OSError:
            pass

    def _serve_close(self, handler, stopping) -> None:
        handler.close_connection = True

    def _serve_reset(self, handler, stopping) -> None:
        if self.content_length:
            handler.send_response(200)
            handler.send_header("Content-Length", "100000")
            handler.end_headers()
            handler.wfile.write(b"<html><body><p>half a page")
        _abort(handler)

    def _serve_redirect(self, handler, stopping) -> None:
        _respond(handler, self.status, b"", (("Location", self.location),))

    def _serve_loop(self, handler, stopping) -> None:
        parts = urlsplit(handler.path)
        location = parts.path if parts.query == "loop" else parts.path + "?loop"
        _respond(handler, self.status, b"", (("Location", location),))

    def _serve_giant(self, handler, stopping) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        if self.content_length:
            handler.send_header("Content-Length", str(self.size))
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        block = (b"<p>" + b"filler " * 9000 + b"</p>\n")[:_CHUNK]
        sent = 0
        try:
            while sent < self.size and not stopping.is_set():
                piece = block[: self.size - sent]
                handler.wfile.write(piece)
                sent += len(piece)
        except OSError:
            pass

    def _serve_bomb(self, handler, stopping) -> None:
        body = bomb_bytes(self.encoding, self.size)
        header = self.encoding.replace("deflate-raw", "deflate")
        _respond(handler, 200, body, (("Content-Type", "text/html"), ("Content-Encoding", header)))

    def _serve_truncated(self, handler, stopping) -> None:
        body = b"<html><body><p>The first part of the story"
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Content-Length", str(len(body) + 1000))
        handler.end_headers()
        handler.wfile.write(body)
        handler.close_connection = True


def _respond(handler, status: int, body: bytes, headers) -> None:
    handler.send_response(status)
    for name, value in headers:
        handler.send_header(name, value)
    if not any(name.lower() == "content-type" for name, _ in headers):
        handler.send_header("Content-Type", "text/html; charset=utf-8")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


def _abort(handler) -> None:
    """SO_LINGER 0 then close: the kernel sends RST instead of a clean FIN."""
    sock: socket.socket = handler.connection
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    handler.close_connection = True


@functools.lru_cache(maxsize=16)
def bomb_bytes(encoding: str, size: int) -> bytes:
    """Zeros compressed in chunks, so building a 32 MB bomb never holds 32 MB."""
    codings = [c.strip() for c in encoding.split(",") if c.strip()]
    data = _compress_zeros(codings[0], size)
    for coding in codings[1:]:
        data = _compress_bytes(coding, data)
    return data


def _compressor(coding: str):
    if coding == "gzip":
        return zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    if coding == "deflate":
        return zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS)
    if coding == "deflate-raw":
        return zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    if coding == "br":
        return _BrotliAdapter()
    if coding == "zstd":
        return zstandard.ZstdCompressor(level=3).compressobj()
    raise ValueError(f"unknown coding {coding}")


def _compress_zeros(coding: str, size: int) -> bytes:
    compressor, zeros, out = _compressor(coding), bytes(2**20), []
    for start in range(0, size, len(zeros)):
        out.append(compressor.compress(zeros[: size - start]))
    out.append(compressor.flush())
    return b"".join(out)


def _compress_bytes(coding: str, data: bytes) -> bytes:
    compressor = _compressor(coding)
    return compressor.compress(data) + compressor.flush()


class _BrotliAdapter:
    def __init__(self) -> None:
        self.inner = brotli.Compressor(quality=5)

    def compress(self, data: bytes) -> bytes:
        return self.inner.process(data)

    def flush(self) -> bytes:
        return self.inner.finish()
