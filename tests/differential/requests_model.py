"""Requests kept as parts, for the differential test's corpus (corpus.py): the request line,
field lines with their separators and line ends, a raw or chunked body, and what follows the
message; and the base requests every mutation starts from."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import List, Optional

CRLF = b"\r\n"

# A complete request placed after the message in about half the cases: where the first message
# ends decides whether this one is seen, and both parsers must agree on that offset.
NEXT_REQUEST = b"GET /track/next.gif?campaignID=n HTTP/1.1\r\nHost: px.example\r\n\r\n"

BEACON_BODIES = [
    b'{"action":"click"}',
    b'[{"action":"a","campaign":"c"},{"action":"b","params":{"x":1}}]',
    b'{"action":"scroll","params":{"depth":70},"url":"https://example.com/p?q=1"}',
    b'{"action":"open"}\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n',
]

PIXEL_TARGETS = [
    b"/track/pageview.gif?campaignID=example.com&scroll-depth=70%25",
    b"/track/email-open:ann@example.com.gif?campaignID=offer",
    b"/tr/v1/action/click/campaignID/c1",
    b"/r/click?url=https%3A%2F%2Fexample.com%2F&campaignID=c",
    b"/t.js",
    b"/",
]


@dataclass
class Case:
    data: bytes
    family: str
    mutation: str


class Chunked:
    """A chunked body, kept as parts so that any one of them can be mutated."""

    def __init__(self, payloads: List[bytes]):
        # [size, extension, data, end of the size line, end of the data]
        self.chunks = [[b"%x" % len(p), b"", p, CRLF, CRLF] for p in payloads]
        self.last = [b"0", b"", CRLF]  # last-chunk: size, extension, line end
        self.trailers: List[List[bytes]] = []  # [line, line end]
        self.final = CRLF

    def bytes(self) -> bytes:
        out = bytearray()
        for size, ext, data, size_eol, data_eol in self.chunks:
            out += size + ext + size_eol + data + data_eol
        out += self.last[0] + self.last[1] + self.last[2]
        for line, eol in self.trailers:
            out += line + eol
        out += self.final
        return bytes(out)


class Request:
    """A request kept as parts: the request line, field lines with their separators and line
    ends, and the body (raw or chunked), then whatever follows the message."""

    def __init__(self, method: bytes, target: bytes, version: bytes = b"HTTP/1.1"):
        self.lead = b""  # bytes before the request line
        self.method, self.target, self.version = method, target, version
        self.sp1 = self.sp2 = b" "
        self.line_eol = CRLF
        self.fields: List[List[bytes]] = []  # [name, separator, value, line end]
        self.end_eol = CRLF  # the empty line that ends the head
        self.body = b""
        self.chunked: Optional[Chunked] = None
        self.tail = b""

    def add(self, name: bytes, value: bytes, sep: bytes = b": ") -> "Request":
        self.fields.append([name, sep, value, CRLF])
        return self

    def insert(self, at: int, name: bytes, value: bytes, sep: bytes = b": ") -> None:
        self.fields.insert(at, [name, sep, value, CRLF])

    def index(self, name: bytes) -> int:
        for i, f in enumerate(self.fields):
            if f[0].lower() == name.lower():
                return i
        return -1

    def set(self, name: bytes, value: bytes) -> None:
        i = self.index(name)
        if i < 0:
            self.add(name, value)
        else:
            self.fields[i][2] = value

    def remove(self, name: bytes) -> None:
        self.fields = [f for f in self.fields if f[0].lower() != name.lower()]

    def body_bytes(self) -> bytes:
        return self.chunked.bytes() if self.chunked is not None else self.body

    def bytes(self) -> bytes:
        out = bytearray(self.lead)
        out += self.method + self.sp1 + self.target + self.sp2 + self.version + self.line_eol
        for name, sep, value, eol in self.fields:
            out += name + sep + value + eol
        out += self.end_eol + self.body_bytes() + self.tail
        return bytes(out)


# Base requests ------------------------------------------------------------------------------


def _tail(rng: random.Random) -> bytes:
    return NEXT_REQUEST if rng.random() < 0.5 else b""


def base_pixel(rng: random.Random) -> Request:
    r = Request(rng.choice([b"GET", b"HEAD"]), rng.choice(PIXEL_TARGETS))
    r.add(b"Host", b"px.example.com")
    if rng.random() < 0.6:
        r.add(b"User-Agent", b"Mozilla/5.0 (X11; Linux x86_64)")
    if rng.random() < 0.4:
        r.add(b"Referer", b"https://example.com/blog/post?utm_source=news")
    r.tail = _tail(rng)
    return r


def base_beacon_cl(rng: random.Random) -> Request:
    body = rng.choice(BEACON_BODIES)
    r = Request(b"POST", b"/e").add(b"Host", b"px.example.com")
    r.add(b"Content-Type", rng.choice([b"text/plain;charset=UTF-8", b"application/json"]))
    r.add(b"Content-Length", b"%d" % len(body))
    r.body = body
    r.tail = _tail(rng)
    return r


def _split(rng: random.Random, payload: bytes) -> List[bytes]:
    n = rng.choice([1, 1, 2, 3])
    cuts = sorted(rng.randrange(1, len(payload)) for _ in range(n - 1))
    parts, at = [], 0
    for c in cuts + [len(payload)]:
        if c > at:
            parts.append(payload[at:c])
        at = c
    return parts


def base_beacon_chunked(rng: random.Random) -> Request:
    r = Request(b"POST", b"/e").add(b"Host", b"px.example.com")
    r.add(b"Content-Type", b"application/json")
    r.add(b"Transfer-Encoding", b"chunked")
    r.chunked = Chunked(_split(rng, rng.choice(BEACON_BODIES)))
    r.tail = _tail(rng)
    return r


def base_other_cl(rng: random.Random) -> Request:
    """A body the server skips: any request but a beacon, with Content-Length."""
    method = rng.choice([b"GET", b"POST", b"PUT", b"DELETE", b"PATCH", b"OPTIONS"])
    r = Request(method, rng.choice([b"/t.js", b"/track/x.gif", b"/nowhere", b"/e"]))
    if method == b"POST" and r.target == b"/e":
        r.target = b"/e2"
    r.add(b"Host", b"px.example.com")
    r.body = rng.choice([b"abc", b"a=1&b=2", b"GET /inner HTTP/1.1\r\nHost: x\r\n\r\n"])
    r.add(b"Content-Length", b"%d" % len(r.body))
    r.tail = _tail(rng)
    return r


def base_other_chunked(rng: random.Random) -> Request:
    """A chunked body the server never reads: it answers and closes."""
    r = Request(rng.choice([b"POST", b"PUT", b"GET"]), rng.choice([b"/upload", b"/t.js"]))
    r.add(b"Host", b"px.example.com").add(b"Transfer-Encoding", b"chunked")
    r.chunked = Chunked(_split(rng, rng.choice(BEACON_BODIES)))
    r.tail = _tail(rng)
    return r


def base_http10(rng: random.Random) -> Request:
    r = Request(b"GET", rng.choice(PIXEL_TARGETS), b"HTTP/1.0")
    r.add(b"User-Agent", b"curl/7.88.1")
    if rng.random() < 0.5:
        r.add(b"Host", b"px.example.com")
    if rng.random() < 0.5:
        r.add(b"Connection", b"keep-alive")
    r.tail = _tail(rng)
    return r


def any_base(rng: random.Random) -> Request:
    return rng.choice([base_pixel, base_pixel, base_beacon_cl, base_beacon_chunked,
                       base_other_cl, base_other_chunked, base_http10])(rng)


def body_base(rng: random.Random) -> Request:
    return rng.choice([base_beacon_cl, base_beacon_cl, base_beacon_chunked, base_other_cl])(rng)


def cl_base(rng: random.Random) -> Request:
    return rng.choice([base_beacon_cl, base_beacon_cl, base_other_cl])(rng)


def chunked_base(rng: random.Random) -> Request:
    return rng.choice([base_beacon_chunked] * 5 + [base_other_chunked])(rng)
