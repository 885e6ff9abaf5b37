"""Mutation families of the request head for the differential test's corpus (corpus.py).
Each family is a list of named variants: (name, function of a random.Random that returns a
Request or, for a cut request, bytes)."""

from __future__ import annotations

import random
from typing import Callable, List, Tuple

from requests_model import (CRLF, Request, any_base, base_beacon_chunked, base_beacon_cl,
                            base_http10, base_other_chunked, base_other_cl, base_pixel,
                            body_base, chunked_base, cl_base)


# Mutation families --------------------------------------------------------------------------
# Each variant is (name, function of rng returning a Request or bytes).

Variant = Tuple[str, Callable[[random.Random], object]]


def _with(base: Callable[[random.Random], Request], change: Callable[[Request], None]):
    def make(rng: random.Random) -> Request:
        r = base(rng)
        change(r)
        return r
    return make


def _decoded_len(r: Request) -> int:
    return sum(len(c[2]) for c in r.chunked.chunks)


def _cl_te(order: str, cl: Callable[[Request], bytes], te: bytes = b"chunked",
           base=base_beacon_chunked):
    def change(r: Request) -> None:
        r.set(b"Transfer-Encoding", te)
        i = r.index(b"Transfer-Encoding")
        value = cl(r)
        r.insert(i if order == "cl-first" else i + 1, b"Content-Length", value)
    return _with(base, change)


def family_cl_te() -> List[Variant]:
    v: List[Variant] = []
    lengths = {
        "cl=wire": lambda r: b"%d" % len(r.body_bytes()),
        "cl=decoded": lambda r: b"%d" % _decoded_len(r),
        "cl=0": lambda r: b"0",
        "cl=3": lambda r: b"3",
    }
    for order in ["cl-first", "te-first"]:
        for lname, cl in lengths.items():
            v.append((f"{order} {lname}", _cl_te(order, cl)))
            v.append((f"{order} {lname} non-beacon", _cl_te(order, cl, base=base_other_chunked)))
        for te in [b"gzip, chunked", b"chunked, gzip", b"identity", b"CHUNKED", b" chunked"]:
            v.append((f"{order} te={te!r}", _cl_te(order, lengths["cl=wire"], te)))

    def http10(r: Request) -> None:
        r.version = b"HTTP/1.0"
        r.add(b"Content-Length", b"%d" % len(r.body_bytes()))
    v.append(("http/1.0 cl+te", _with(base_beacon_chunked, http10)))

    def cl_body_te_second(r: Request) -> None:
        # The classic CL.TE shape: a CL that covers a chunked body holding a second request.
        r.chunked = None
        r.body = b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
        r.set(b"Content-Length", b"%d" % len(r.body))
        r.add(b"Transfer-Encoding", b"chunked")
    v.append(("cl covers chunked body with a request", _with(base_beacon_cl, cl_body_te_second)))

    def te_body_cl_short(r: Request) -> None:
        r.insert(0, b"Content-Length", b"4")
    v.append(("TE.CL short cl before host", _with(base_beacon_chunked, te_body_cl_short)))
    return v


TE_VALUES = [b"chunked", b"Chunked", b"CHUNKED", b"cHuNkEd", b" chunked", b"chunked ",
             b"\tchunked", b"chunked\t", b"gzip, chunked", b"chunked, gzip", b"gzip,chunked",
             b"chunked,", b"chunked ,", b",chunked", b", chunked", b"chunked, chunked",
             b"identity", b"identity, chunked", b"chunked;q=1", b"chunked ;", b"x-chunked",
             b"chunke", b"chunkedd", b'"chunked"', b"", b"chunked\x00", b"chunked\x0b",
             b"ch unked", b"chunked\xff", b"deflate", b"chunked\x7f", b"\x00chunked"]
TE_NAMES = [b"Transfer-Encoding", b"transfer-encoding", b"TRANSFER-ENCODING",
            b"Transfer-encoding", b"Transfer_Encoding", b"Transfer-Encoding ",
            b"Transfer-Encoding\t", b"XTransfer-Encoding", b"Transfer-Encodings",
            b"Transfer-Encod\xefng", b"Transfer\x00Encoding"]


def family_te() -> List[Variant]:
    v: List[Variant] = []
    for value in TE_VALUES:
        v.append((f"value={value!r}",
                  _with(chunked_base, lambda r, value=value: r.set(b"Transfer-Encoding", value))))
    for name in TE_NAMES:
        def rename(r: Request, name=name) -> None:
            r.fields[r.index(b"Transfer-Encoding")][0] = name
        v.append((f"name={name!r}", _with(chunked_base, rename)))
    for first, second in [(b"chunked", b"chunked"), (b"gzip", b"chunked"), (b"chunked", b"gzip"),
                          (b"chunked", b""), (b"identity", b"chunked")]:
        def twice(r: Request, first=first, second=second) -> None:
            r.set(b"Transfer-Encoding", first)
            r.add(b"Transfer-Encoding", second)
        v.append((f"two fields {first!r} {second!r}", _with(chunked_base, twice)))

    def te_on_cl_body(r: Request) -> None:
        r.remove(b"Content-Length")
        r.add(b"Transfer-Encoding", b"chunked")
    v.append(("chunked header, raw body", _with(base_beacon_cl, te_on_cl_body)))
    return v


def _cl_values(n: int) -> List[Tuple[str, bytes]]:
    d = b"%d" % n
    return [("exact", d), ("plus", b"+" + d), ("minus", b"-" + d), ("lead sp", b" " + d),
            ("trail sp", d + b" "), ("lead tab", b"\t" + d), ("zero", b"0" + d),
            ("zeros", b"0000000000" + d), ("many zeros", b"0" * 40 + d), ("dot", d + b".0"),
            ("exp", d + b"e0"), ("hex", b"0x%x" % n), ("list equal", d + b"," + d),
            ("list equal sp", d + b", " + d), ("list differ", d + b", %d" % (n + 1)),
            ("trailing comma", d + b","), ("empty", b""), ("inner sp", d[:1] + b" " + d[1:]),
            ("2^64+n", b"%d" % (2**64 + n)), ("2^32+n", b"%d" % (2**32 + n)),
            ("20 nines", b"9" * 20), ("max body", b"65536"), ("max body+1", b"65537"),
            ("nul", d + b"\x00"), ("vt", d + b"\x0b"), ("fullwidth digit", b"\xef\xbc\x91"),
            ("semicolon", d + b";"), ("quoted", b'"' + d + b'"'), ("one less", b"%d" % (n - 1)),
            ("one more", b"%d" % (n + 1))]


def family_cl() -> List[Variant]:
    v: List[Variant] = []
    for label, _ in _cl_values(18):
        def change(r: Request, label=label) -> None:
            value = dict(_cl_values(len(r.body)))[label]
            r.set(b"Content-Length", value)
        v.append((f"value {label}", _with(cl_base, change)))
    for name in [b"content-length", b"CONTENT-LENGTH", b"Content-length", b"Content_Length",
                 b"Content-Length ", b"Content-Length\t", b"Content-Lengt", b"XContent-Length"]:
        def rename(r: Request, name=name) -> None:
            r.fields[r.index(b"Content-Length")][0] = name
        v.append((f"name={name!r}", _with(cl_base, rename)))

    def longer_body(r: Request) -> None:
        r.body += b"XYZ"
    v.append(("body longer than cl", _with(cl_base, longer_body)))

    def shorter_body(r: Request) -> None:
        r.body, r.tail = r.body[:-3], b""
    v.append(("body shorter than cl", _with(cl_base, shorter_body)))

    def cl_on_get_pixel(r: Request) -> None:
        r.body = b"GET /track/inner.gif HTTP/1.1\r\nHost: x\r\n\r\n"
        r.add(b"Content-Length", b"%d" % len(r.body))
    v.append(("pixel get with cl body", _with(base_pixel, cl_on_get_pixel)))
    return v


def family_cl_dup() -> List[Variant]:
    v: List[Variant] = []
    pairs = [("equal", lambda d: (d, d)), ("differ", lambda d: (d, b"%d" % (int(d) + 1))),
             ("zero then n", lambda d: (b"0", d)), ("n then zero", lambda d: (d, b"0")),
             ("leading zero", lambda d: (d, b"0" + d)), ("trailing space", lambda d: (d, d + b" ")),
             ("empty second", lambda d: (d, b""))]
    for label, pair in pairs:
        for spread in ["adjacent", "apart"]:
            def change(r: Request, pair=pair, spread=spread) -> None:
                first, second = pair(b"%d" % len(r.body))
                r.set(b"Content-Length", first)
                at = r.index(b"Content-Length") + 1
                if spread == "apart":
                    r.insert(at, b"X-Between", b"1")
                    at += 1
                r.insert(at, _duplicate_name(second), second)
            v.append((f"{label} {spread}", _with(cl_base, change)))

    def three(r: Request) -> None:
        d = b"%d" % len(r.body)
        r.set(b"Content-Length", d)
        r.add(b"Content-Length", d)
        r.add(b"content-length", d)
    v.append(("three equal", _with(cl_base, three)))
    return v


def _duplicate_name(value: bytes) -> bytes:
    # Case of the duplicate's name: from the value, so the choice adds no randomness.
    return b"content-length" if len(value) % 2 else b"Content-Length"


def family_whitespace() -> List[Variant]:
    v: List[Variant] = []
    for name in [b"Host", b"Content-Length", b"Transfer-Encoding", b"X-Custom"]:
        for sep in [b" : ", b" :", b"\t:", b"\t: "]:
            def change(r: Request, name=name, sep=sep) -> None:
                if r.index(name) < 0:
                    r.add(name, b"1" if name != b"Transfer-Encoding" else b"chunked")
                r.fields[r.index(name)][1] = sep
            base = chunked_base if name == b"Transfer-Encoding" else body_base
            v.append((f"{sep!r} after {name.decode()}", _with(base, change)))
    for label, sep in [("no space after colon", b":"), ("many spaces", b":      "),
                       ("tab after colon", b":\t"), ("sp tab", b": \t ")]:
        def change(r: Request, sep=sep) -> None:
            for f in r.fields:
                f[1] = sep
        v.append((label, _with(any_base, change)))

    def trailing_ws(r: Request) -> None:
        for f in r.fields:
            f[2] += b" \t "
    v.append(("trailing whitespace in values", _with(any_base, trailing_ws)))

    def ws_only_value(r: Request) -> None:
        r.add(b"X-Empty", b"   ")
    v.append(("whitespace-only value", _with(any_base, ws_only_value)))
    for label, attr, value in [("double sp after method", "sp1", b"  "),
                               ("double sp before version", "sp2", b"  "),
                               ("tab after method", "sp1", b"\t"),
                               ("tab before version", "sp2", b"\t"),
                               ("vt after method", "sp1", b"\x0b")]:
        v.append((label, _with(any_base, lambda r, a=attr, x=value: setattr(r, a, x))))

    def trailing_sp_version(r: Request) -> None:
        r.version += b" "
    v.append(("space after version", _with(any_base, trailing_sp_version)))

    def leading_sp_method(r: Request) -> None:
        r.method = b" " + r.method
    v.append(("space before method", _with(any_base, leading_sp_method)))

    def sp_in_target(r: Request) -> None:
        r.target = r.target[:2] + b" " + r.target[2:]
    v.append(("space in target", _with(any_base, sp_in_target)))

    def sp_line_before_end(r: Request) -> None:
        r.end_eol = b" \r\n"
    v.append(("space on the empty line", _with(any_base, sp_line_before_end)))

    def sp_first_field(r: Request) -> None:
        r.fields[0][0] = b" " + r.fields[0][0]
    v.append(("space before first field name", _with(any_base, sp_first_field)))
    return v


def family_obs_fold() -> List[Variant]:
    v: List[Variant] = []
    for name in [b"Host", b"X-Custom", b"Content-Length", b"Transfer-Encoding", b"User-Agent"]:
        for fold in [b" ", b"\t", b"   ", b" \t"]:
            def change(r: Request, name=name, fold=fold) -> None:
                i = r.index(name)
                if i < 0:
                    r.add(name, b"a")
                    i = len(r.fields) - 1
                f = r.fields[i]
                if name == b"Transfer-Encoding":
                    f[2] = b""
                    cont = b"chunked"
                elif name == b"Content-Length":
                    cont = f[2]
                    f[2] = b""
                else:
                    cont = b"continued"
                r.fields.insert(i + 1, [b"", b"", fold + cont, CRLF])
            base = chunked_base if name == b"Transfer-Encoding" else \
                cl_base if name == b"Content-Length" else any_base
            v.append((f"fold {name.decode()} {fold!r}", _with(base, change)))

    def te_gzip_fold_chunked(r: Request) -> None:
        i = r.index(b"Transfer-Encoding")
        r.fields[i][2] = b"gzip,"
        r.fields.insert(i + 1, [b"", b"", b" chunked", CRLF])
    v.append(("te gzip folded chunked", _with(chunked_base, te_gzip_fold_chunked)))

    def two_folds(r: Request) -> None:
        r.fields.insert(1, [b"", b"", b" a", CRLF])
        r.fields.insert(2, [b"", b"", b"\tb", CRLF])
    v.append(("two continuation lines", _with(any_base, two_folds)))

    def fold_first(r: Request) -> None:
        r.fields.insert(0, [b"", b"", b" X-Folded: 1", CRLF])
    v.append(("continuation as first field line", _with(any_base, fold_first)))
    return v


def family_line_endings() -> List[Variant]:
    v: List[Variant] = []
    for eol_label, eol in [("lf", b"\n"), ("cr", b"\r"), ("crcrlf", b"\r\r\n"), ("lfcr", b"\n\r")]:
        v.append((f"request line {eol_label}",
                  _with(any_base, lambda r, e=eol: setattr(r, "line_eol", e))))

        def one_field(r: Request, e=eol) -> None:
            r.fields[0][3] = e
        v.append((f"first field {eol_label}", _with(any_base, one_field)))

        def all_lines(r: Request, e=eol) -> None:
            r.line_eol = r.end_eol = e
            for f in r.fields:
                f[3] = e
        v.append((f"every line {eol_label}", _with(any_base, all_lines)))
        v.append((f"empty line {eol_label}",
                  _with(any_base, lambda r, e=eol: setattr(r, "end_eol", e))))

    def last_field_lf(r: Request) -> None:
        r.fields[-1][3] = b"\n"
    v.append(("last field lf then crlf", _with(any_base, last_field_lf)))

    def cr_in_value(r: Request) -> None:
        r.add(b"X-Custom", b"a\rb")
    v.append(("bare cr in value", _with(any_base, cr_in_value)))

    def cr_in_value_cl(r: Request) -> None:
        r.fields[r.index(b"Content-Length")][2] += b"\r"
    v.append(("cr after cl value", _with(cl_base, cr_in_value_cl)))

    def lf_in_value(r: Request) -> None:
        r.add(b"X-Custom", b"a\nb")
    v.append(("bare lf in value", _with(any_base, lf_in_value)))

    def cr_in_target(r: Request) -> None:
        r.target = r.target[:2] + b"\r" + r.target[2:]
    v.append(("bare cr in target", _with(any_base, cr_in_target)))

    def cr_line(r: Request) -> None:
        r.fields.insert(1, [b"\r", b"", b"", CRLF])
    v.append(("line holding a cr", _with(any_base, cr_line)))

    def lf_hides_te(r: Request) -> None:
        # "X: a\nTransfer-Encoding: chunked": one field to a CRLF-only parser, two to others.
        i = r.index(b"Transfer-Encoding")
        del r.fields[i]
        r.fields.insert(0, [b"X-Custom", b": ", b"a\nTransfer-Encoding: chunked", CRLF])
    v.append(("te hidden behind bare lf", _with(chunked_base, lf_hides_te)))

    def cr_hides_cl(r: Request) -> None:
        i = r.index(b"Content-Length")
        d = r.fields[i][2]
        r.fields[i] = [b"X-Custom", b": ", b"a\rContent-Length: " + d, CRLF]
    v.append(("cl hidden behind bare cr", _with(cl_base, cr_hides_cl)))
    return v


INTERESTING = [b"\x00", b"\x01", b"\x08", b"\x0b", b"\x0c", b"\x1f", b"\x7f", b"\x80", b"\xa0",
               b"\xc3\xa9", b"\xff"]


def _put(value: bytes, where: str, x: bytes) -> bytes:
    if where == "start":
        return x + value
    if where == "end":
        return value + x
    mid = len(value) // 2
    return value[:mid] + x + value[mid:]


def family_bytes() -> List[Variant]:
    v: List[Variant] = []
    for x in INTERESTING:
        for where in ["start", "middle", "end"]:
            v.append((f"method {where} {x!r}",
                      _with(any_base, lambda r, w=where, x=x: setattr(r, "method",
                                                                       _put(r.method, w, x)))))
            v.append((f"target {where} {x!r}",
                      _with(any_base, lambda r, w=where, x=x: setattr(r, "target",
                                                                       _put(r.target, w, x)))))
            v.append((f"version {where} {x!r}",
                      _with(any_base, lambda r, w=where, x=x: setattr(r, "version",
                                                                       _put(r.version, w, x)))))

            def name(r: Request, w=where, x=x) -> None:
                r.fields[-1][0] = _put(r.fields[-1][0], w, x)
            v.append((f"field name {where} {x!r}", _with(any_base, name)))

            def value(r: Request, w=where, x=x) -> None:
                r.add(b"X-Custom", _put(b"value", w, x))
            v.append((f"field value {where} {x!r}", _with(any_base, value)))

            def host(r: Request, w=where, x=x) -> None:
                r.set(b"Host", _put(b"px.example.com", w, x))
            v.append((f"host {where} {x!r}", _with(any_base, host)))

        def cl(r: Request, x=x) -> None:
            r.set(b"Content-Length", b"%d" % len(r.body) + x)
        v.append((f"cl value {x!r}", _with(cl_base, cl)))

        def te(r: Request, x=x) -> None:
            r.set(b"Transfer-Encoding", b"chunked" + x)
        v.append((f"te value {x!r}", _with(chunked_base, te)))

        def ext(r: Request, x=x) -> None:
            r.chunked.chunks[0][1] = b";a=" + x
        v.append((f"chunk extension {x!r}", _with(chunked_base, ext)))

        def trailer(r: Request, x=x) -> None:
            r.chunked.trailers.append([b"X-Trailer: a" + x, CRLF])
        v.append((f"trailer value {x!r}", _with(chunked_base, trailer)))

        def trailer_name(r: Request, x=x) -> None:
            r.chunked.trailers.append([b"X-Tr" + x + b"ailer: a", CRLF])
        v.append((f"trailer name {x!r}", _with(chunked_base, trailer_name)))

        def data(r: Request, x=x) -> None:
            c = r.chunked.chunks[0]
            c[2] = x + c[2]
            c[0] = b"%x" % len(c[2])
        v.append((f"chunk data {x!r}", _with(chunked_base, data)))
    return v


VERSIONS = [b"HTTP/1.1", b"HTTP/1.0", b"HTTP/1.2", b"HTTP/2.0", b"HTTP/2", b"HTTP/0.9", b"HTTP/1",
            b"HTTP/1.01", b"HTTP/01.1", b"http/1.1", b"HTTP/1.x", b"HTTP /1.1", b"HTTP/ 1.1",
            b"HTTP/3.0", b"HTTP/9.9", b"HTTPS/1.1", b"HTTP/1.10", b"", b"HTTP/1.1/", b"HTTP\\1.1",
            b"HTTP/1.1 HTTP/1.1", b"HTTP/1,1", b"HTTP/11"]


def family_version() -> List[Variant]:
    v: List[Variant] = []
    for version in VERSIONS:
        for label, base in [("pixel", base_pixel), ("beacon cl", base_beacon_cl),
                            ("chunked", base_beacon_chunked)]:
            v.append((f"{version!r} {label}",
                      _with(base, lambda r, x=version: setattr(r, "version", x))))

    def http10_keep_alive_cl(r: Request) -> None:
        r.version = b"HTTP/1.0"
        r.add(b"Connection", b"keep-alive")
    v.append(("http/1.0 keep-alive beacon", _with(base_beacon_cl, http10_keep_alive_cl)))
    v.append(("http/1.0 keep-alive other cl", _with(base_other_cl, http10_keep_alive_cl)))
    return v


def family_host() -> List[Variant]:
    v: List[Variant] = []

    def missing(r: Request) -> None:
        r.remove(b"Host")
    v.append(("missing", _with(any_base, missing)))
    v.append(("missing http/1.0", _with(base_http10, missing)))
    for label, values in [("duplicate equal", [b"px.example.com", b"px.example.com"]),
                          ("duplicate differ", [b"px.example.com", b"evil.example"]),
                          ("duplicate empty", [b"px.example.com", b""])]:
        def dup(r: Request, values=values) -> None:
            r.set(b"Host", values[0])
            r.add(b"host", values[1])
        v.append((label, _with(any_base, dup)))
    for value in [b"", b"a b", b"px.example.com:8080", b"px.example.com:", b"user@px.example.com",
                  b"[::1]:80", b"px.example.com/path", b"px.example.com, other", b"*"]:
        v.append((f"value {value!r}", _with(any_base, lambda r, x=value: r.set(b"Host", x))))
    for name in [b"HOST", b"host", b"Host ", b"Hosts"]:
        def rename(r: Request, name=name) -> None:
            r.fields[r.index(b"Host")][0] = name
        v.append((f"name {name!r}", _with(any_base, rename)))
    return v


def family_target() -> List[Variant]:
    v: List[Variant] = []
    absolutes = [b"http://px.example.com/track/x.gif?campaignID=c", b"HTTP://PX.EXAMPLE.COM/e",
                 b"https://px.example.com/e", b"http://px.example.com", b"http://h?q=1",
                 b"http:///e", b"http://u@h/e", b"http://u:p@h/e", b"ftp://h/e", b"http:/e",
                 b"http:e", b"//h/e", b"http://h:80/e", b"http://[::1]/e", b"hTtPs://h/e",
                 b"http://h/e#frag", b"ws://h/e", b"http://h/\xc3\xa9"]
    for target in absolutes:
        for label, base in [("pixel", base_pixel), ("beacon", body_base)]:
            v.append((f"{target!r} {label}",
                      _with(base, lambda r, t=target: setattr(r, "target", t))))
    for method in [b"OPTIONS", b"GET", b"POST", b"HEAD"]:
        def star(r: Request, m=method) -> None:
            r.method, r.target = m, b"*"
        v.append((f"asterisk {method.decode()}", _with(base_pixel, star)))
        v.append((f"asterisk {method.decode()} with cl", _with(base_other_cl, star)))
    for method in [b"CONNECT", b"GET"]:
        def authority(r: Request, m=method) -> None:
            r.method, r.target = m, b"px.example.com:443"
        v.append((f"authority-form {method.decode()}", _with(base_pixel, authority)))
    for target in [b"e", b"/%00", b"/a#frag", b"/a?b#c", b"/caf\xc3\xa9", b"/\x7f", b"/a\\b",
                   b"/a\"b<c>", b"/../../etc/passwd", b"?x", b"/track/x.gif?q=<script>", b"**",
                   b"/" + b"a" * 8180, b"/" + b"a" * 8200, b"/e?" + b"x" * 100]:
        v.append((f"target {target[:24]!r} len {len(target)}",
                  _with(any_base, lambda r, t=target: setattr(r, "target", t))))
    return v


METHODS = [b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"TRACE",
           b"CONNECT", b"get", b"Get", b"post", b"GETT", b"GE", b"PRI", b"PROPFIND", b"M-SEARCH",
           b"FOO", b"!#$%&'*+-.^_`|~", b"G:T", b"G/T", b"G(T", b"", b"12345", b"A" * 64,
           b"G\xc3\x89T", b"GET GET"]


def family_method() -> List[Variant]:
    v: List[Variant] = []
    for method in METHODS:
        for label, base in [("pixel", base_pixel), ("beacon cl", base_beacon_cl),
                            ("beacon chunked", base_beacon_chunked), ("other cl", base_other_cl)]:
            v.append((f"{method[:20]!r} {label}",
                      _with(base, lambda r, m=method: setattr(r, "method", m))))
    for method in [b"POST", b"PUT"]:
        def no_length(r: Request, m=method) -> None:
            r.method = m
        v.append((f"{method.decode()} without a length", _with(base_pixel, no_length)))
    return v


def family_leading() -> List[Variant]:
    v: List[Variant] = []
    for lead in [b"\r\n", b"\r\n\r\n", b"\r\n" * 8, b"\n", b"\r", b" \r\n", b"\t", b"\x00",
                 b"\x16\x03\x01"]:
        v.append((f"{lead[:8]!r} len {len(lead)}",
                  _with(any_base, lambda r, x=lead: setattr(r, "lead", x))))
    return v


def family_connection() -> List[Variant]:
    v: List[Variant] = []
    for value in [b"close", b"keep-alive", b"Close", b"keep-alive, close", b"Upgrade",
                  b"close\x0b", b"", b"keep-alive, Upgrade"]:
        v.append((f"connection {value!r}",
                  _with(any_base, lambda r, x=value: r.add(b"Connection", x))))

    def expect(r: Request) -> None:
        r.add(b"Expect", b"100-continue")
    v.append(("expect 100-continue", _with(body_base, expect)))

    def upgrade(r: Request) -> None:
        r.add(b"Connection", b"Upgrade").add(b"Upgrade", b"h2c")
    v.append(("upgrade h2c", _with(any_base, upgrade)))
    return v


def family_limits() -> List[Variant]:
    v: List[Variant] = []
    for n in [98, 99, 100, 101]:
        def fields(r: Request, n=n) -> None:
            while len(r.fields) < n:
                r.add(b"X-F%d" % len(r.fields), b"v")
        v.append((f"{n} fields", _with(any_base, fields)))
    for size in [16000, 16380, 16384, 16390, 17000]:
        def big(r: Request, size=size) -> None:
            head = len(r.bytes()) - len(r.body_bytes()) - len(r.tail)
            r.add(b"X-Big", b"b" * max(1, size - head - len(b"X-Big: \r\n")))
        v.append((f"head of about {size} bytes", _with(any_base, big)))
    for size in [65535, 65536, 65537]:
        def body(r: Request, size=size) -> None:
            r.body = b"{" + b" " * (size - 2) + b"}"
            r.set(b"Content-Length", b"%d" % size)
        v.append((f"beacon body of {size} bytes", _with(base_beacon_cl, body)))
    return v


def family_truncation() -> List[Variant]:
    v: List[Variant] = []
    for cut in [1, 2, 3, 4, 5, 8]:
        def change(r: Request, cut=cut) -> bytes:
            r.tail = b""
            data = r.bytes()
            return data[:-cut]
        v.append((f"last {cut} bytes cut", lambda rng, c=change: c(any_base(rng))))

    def head_only(rng: random.Random) -> bytes:
        r = body_base(rng)
        r.tail = b""
        return r.bytes()[:len(r.bytes()) - len(r.body_bytes())]
    v.append(("body missing", head_only))

    def mid_line(rng: random.Random) -> bytes:
        r = any_base(rng)
        data = r.bytes()
        return data[:rng.randrange(1, len(data))]
    v.append(("cut anywhere", mid_line))
    return v
