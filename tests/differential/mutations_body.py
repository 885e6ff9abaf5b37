"""Mutation families of the chunked body for the differential test's corpus (corpus.py): chunk
sizes, extensions, line ends and trailers. Variants as in mutations_head.py."""

from __future__ import annotations

from typing import Callable, List

from mutations_head import Variant, _with
from requests_model import CRLF, Request, base_beacon_chunked, chunked_base


def family_chunk_size() -> List[Variant]:
    v: List[Variant] = []

    def sized(fn: Callable[[int], bytes], name: str) -> Variant:
        def change(r: Request) -> None:
            c = r.chunked.chunks[0]
            c[0] = fn(len(c[2]))
        return (name, _with(chunked_base, change))

    v.append(sized(lambda n: b"%x" % n, "lower hex"))
    v.append(sized(lambda n: b"%X" % n, "upper hex"))
    for zeros in [1, 2, 8, 15, 16, 17, 19, 20, 21, 25, 40]:
        v.append(sized(lambda n, z=zeros: b"0" * z + b"%x" % n, f"{zeros} leading zeros"))
    v.append(sized(lambda n: b"0x%x" % n, "0x prefix"))
    v.append(sized(lambda n: b"+%x" % n, "plus sign"))
    v.append(sized(lambda n: b"-%x" % n, "minus sign"))
    v.append(sized(lambda n: b" %x" % n, "leading space"))
    v.append(sized(lambda n: b"%x " % n, "trailing space"))
    v.append(sized(lambda n: b"%x\t" % n, "trailing tab"))
    v.append(sized(lambda n: b"%x" % (n + 1), "one more than the data"))
    v.append(sized(lambda n: b"%x" % (n - 1), "one less than the data"))
    v.append(sized(lambda n: b"%x" % (2**64 + n), "2^64+n (wraps to n in 64 bits)"))
    v.append(sized(lambda n: b"%x" % (2**32 + n), "2^32+n"))
    v.append(sized(lambda n: b"ffffffffffffffff", "2^64-1"))
    v.append(sized(lambda n: b"fffffffffffffffff", "17 f"))
    v.append(sized(lambda n: b"10001", "65537"))
    v.append(sized(lambda n: b"", "empty size"))
    v.append(sized(lambda n: b"g", "not hex"))
    v.append(sized(lambda n: b"%x_" % n, "underscore"))
    v.append(sized(lambda n: b"\xef\xbc\x91", "fullwidth digit"))
    for last in [b"00", b"000000", b"0" * 20, b"0" * 21, b"0" * 30, b" 0", b"0 ", b"0\t", b"00x",
                 b"-0", b"+0"]:
        def change(r: Request, last=last) -> None:
            r.chunked.last[0] = last
        v.append((f"last chunk {last[:12]!r} len {len(last)}", _with(chunked_base, change)))

    def many_chunks(r: Request) -> None:
        data = b"".join(c[2] for c in r.chunked.chunks)
        r.chunked.chunks = [[b"1", b"", data[i:i + 1], CRLF, CRLF] for i in range(len(data))]
    v.append(("one byte per chunk", _with(chunked_base, many_chunks)))

    def zero_chunk_first(r: Request) -> None:
        r.chunked.chunks.insert(0, [b"0", b"", b"", CRLF, CRLF])
    v.append(("zero chunk first (ends the body)", _with(chunked_base, zero_chunk_first)))

    def no_last(r: Request) -> None:
        r.chunked.last = [b"", b"", b""]
        r.chunked.final = b""
    v.append(("no last chunk", _with(chunked_base, no_last)))

    def big_body(r: Request) -> None:
        r.chunked.chunks = [[b"%x" % 40000, b"", b"x" * 40000, CRLF, CRLF],
                            [b"%x" % 30000, b"", b"y" * 30000, CRLF, CRLF]]
    v.append(("two chunks over max body", _with(base_beacon_chunked, big_body)))
    return v


EXTENSIONS = [b";a", b";a=b", b';a="b c"', b';a="b;c"', b';a="\\""', b";", b";;", b";=", b"; a=b",
              b" ;a", b"\t;a", b" ; a = b ", b";a=b;c=d", b";a=b ", b";a =b", b";a= b",
              b";" + b"x" * 5000, b";" + b"x" * 4000, b";a\rb", b";a\nb", b";\x00", b";\x01",
              b";\x7f", b";\x80", b";\xff", b";a=\"unterminated", b";a=b,c", b";{}", b";a b"]


def family_chunk_ext() -> List[Variant]:
    v: List[Variant] = []
    for ext in EXTENSIONS:
        def first(r: Request, ext=ext) -> None:
            r.chunked.chunks[0][1] = ext
        v.append((f"first chunk {ext[:16]!r} len {len(ext)}", _with(chunked_base, first)))

        def last(r: Request, ext=ext) -> None:
            r.chunked.last[1] = ext
        v.append((f"last chunk {ext[:16]!r} len {len(ext)}", _with(chunked_base, last)))
    return v


def family_chunk_framing() -> List[Variant]:
    v: List[Variant] = []
    for label, eol in [("lf", b"\n"), ("cr", b"\r"), ("none", b""), ("xx", b"XX"),
                       ("crcrlf", b"\r\r\n"), ("sp crlf", b" \r\n"), ("lfcr", b"\n\r")]:
        def size_eol(r: Request, e=eol) -> None:
            r.chunked.chunks[0][3] = e
        v.append((f"size line ends {label}", _with(chunked_base, size_eol)))

        def data_eol(r: Request, e=eol) -> None:
            r.chunked.chunks[0][4] = e
        v.append((f"data ends {label}", _with(chunked_base, data_eol)))

        def last_eol(r: Request, e=eol) -> None:
            r.chunked.last[2] = e
        v.append((f"last chunk line ends {label}", _with(chunked_base, last_eol)))

        def final(r: Request, e=eol) -> None:
            r.chunked.final = e
        v.append((f"final line {label}", _with(chunked_base, final)))

    def extra_crlf(r: Request) -> None:
        r.chunked.final = b"\r\n\r\n"
    v.append(("extra crlf after the body", _with(chunked_base, extra_crlf)))

    def data_longer(r: Request) -> None:
        r.chunked.chunks[0][2] += b"ZZ"
    v.append(("data longer than size", _with(chunked_base, data_longer)))

    def smuggle_in_data(r: Request) -> None:
        inner = b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
        r.chunked.chunks = [[b"%x" % len(inner), b"", inner, CRLF, CRLF]]
    v.append(("chunk data that looks like an end", _with(chunked_base, smuggle_in_data)))
    return v


def family_trailers() -> List[Variant]:
    v: List[Variant] = []
    lines = [(b"X-Trailer: 1", CRLF), (b"X-Trailer:", CRLF), (b"X-Trailer:1", CRLF),
             (b"Content-Length: 5", CRLF), (b"Content-Length: 5, 6", CRLF),
             (b"Content-Length: x", CRLF), (b"Transfer-Encoding: gzip", CRLF),
             (b"Transfer-Encoding: chunked", CRLF), (b"Host: evil.example", CRLF),
             (b"X-Trailer : 1", CRLF), (b"X-Trailer\t: 1", CRLF), (b" X-Folded: 1", CRLF),
             (b"X-Trailer: 1", b"\n"), (b"X-Trailer: 1", b"\r"), (b"X-Trailer", CRLF),
             (b":1", CRLF), (b"X-Trailer: a\x01b", CRLF), (b"X-Trailer: caf\xc3\xa9", CRLF),
             (b"X-Trailer: " + b"v" * 5000, CRLF), (b"X-Trailer: " + b"v" * 3000, CRLF),
             (b"GET /smuggled HTTP/1.1", CRLF)]
    for line, eol in lines:
        def add(r: Request, line=line, eol=eol) -> None:
            r.chunked.trailers.append([line, eol])
        v.append((f"{line[:24]!r} {eol!r} len {len(line)}", _with(chunked_base, add)))

    def folded(r: Request) -> None:
        r.chunked.trailers += [[b"X-Trailer: 1", CRLF], [b" continued", CRLF]]
    v.append(("folded trailer", _with(chunked_base, folded)))

    def two(r: Request) -> None:
        r.chunked.trailers += [[b"X-A: 1", CRLF], [b"X-B: 2", CRLF]]
    v.append(("two trailers", _with(chunked_base, two)))
    return v
