#!/usr/bin/env python3
"""Differential parsing of HTTP/1.1 requests: pixelring against h11 (Debian's python3-h11).

Generates a deterministic corpus of mutated requests (tests/differential/corpus.py), runs it
through pixelring's parser and chunked decoder as the server feeds them
(http_differential_driver, one JSON line per case) and through h11 as a server
(h11.Connection(h11.SERVER): receive_data, then next_event until NEED_DATA, EndOfMessage or an
error), and classifies every case:

  agree               both accept: same method, target, version, body bytes and message end
  agree_unread        pixelring answers a chunked request off the beacon route and closes
                      without reading its body; the heads agree
  both_reject, both_incomplete
  pixelring_stricter  pixelring rejects what h11 accepts or still waits for (allowed)
  explained           h11 rejects what pixelring accepts, by a class of ALLOWLIST, each with its
                      RFC 9112 reason and checked: once the one feature is neutralised, h11
                      must agree with pixelring on the same case
  unexplained         h11 rejects what pixelring accepts, no class explains it      -> failure
  framing_differs     both accept (or one accepts while the other waits) with a different
                      method, target, version, body or message end                  -> failure
  split_mismatch      pixelring decides differently when the bytes come in pieces   -> failure

Prints a summary, writes every case that is not agree/both_* to OUT/disagreements.jsonl and
exits 1 on a failure, 77 when h11 is not installed (the test is skipped), 2 on a usage error.

  differential.py --driver build/diff/tests/differential/http_differential_driver
                  [--cases 20000] [--seed 9112] [--out DIR] [--no-split]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

SYSTEM_PYTHON = "/usr/bin/python3"

try:
    import h11
except ImportError:
    # Debian's python3-h11 is importable by Debian's python3 only; another python3 found first on
    # PATH (pyenv, a virtualenv) hands over to it.
    if (os.path.exists(SYSTEM_PYTHON) and os.path.realpath(sys.executable) !=
            os.path.realpath(SYSTEM_PYTHON) and "PIXELRING_DIFF_REEXEC" not in os.environ):
        os.environ["PIXELRING_DIFF_REEXEC"] = "1"
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
    print("SKIP: h11 is not installed (apt-get install python3-h11)")
    sys.exit(77)

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402  (after the h11 check, which may re-execute this script)


# h11's side -----------------------------------------------------------------------------------


def run_h11(data: bytes) -> dict:
    """What h11, as a server given `data` in one receive_data, makes of the first request."""
    conn = h11.Connection(h11.SERVER)
    if data:  # receive_data(b"") would mean the peer closed the connection
        conn.receive_data(data)
    out: dict = {"verdict": "incomplete", "stage": "head"}
    body = bytearray()
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA or event is h11.PAUSED:
                break
            if isinstance(event, h11.ConnectionClosed):  # never reached: no EOF is sent
                break
            if isinstance(event, h11.Request):
                out.update(stage="body", method=event.method.decode("latin-1"),
                           target=event.target.decode("latin-1"),
                           version=event.http_version.decode("latin-1"))
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                out["verdict"] = "accept"
                out["end"] = len(data) - len(conn.trailing_data[0])
                break
    except h11.RemoteProtocolError as e:
        out.update(verdict="reject", status=e.error_status_hint, reason=str(e))
    except Exception as e:  # a crash in h11 is a rejection as far as framing goes
        out.update(verdict="reject", status=0, reason=f"h11 raised {type(e).__name__}: {e}")
    if "method" in out:
        out["body"] = bytes(body).decode("latin-1")
    return out


# Comparison -----------------------------------------------------------------------------------

ACCEPTABLE = ("agree", "agree_unread", "both_reject", "both_incomplete", "pixelring_stricter")
FAILURES = ("unexplained", "framing_differs", "split_mismatch")


def _map_target(target: str, maps: List[Callable[[str], str]]) -> str:
    for m in maps:
        target = m(target)
    return target


def same_head(px: dict, h: dict, maps: List[Callable[[str], str]]) -> bool:
    return (px["method"] == h["method"] and _map_target(px["target"], maps) == h["target"]
            and px["version"] == h["version"])


def classify(px: dict, h: dict, delta: int = 0,
             maps: Optional[List[Callable[[str], str]]] = None) -> str:
    """The category of one case. delta: bytes removed from the front of h11's input, maps:
    rewrites of pixelring's target, both from ALLOWLIST normalisations."""
    maps = maps or []
    pv, hv = px["verdict"], h["verdict"]
    if pv == "accept" and px.get("body_read") == "unread":
        # Only the head was parsed: the server answers and closes.
        if hv == "reject":
            return "h11_rejects"
        if h["stage"] == "head":
            return "framing_differs"  # h11 still waits for a head pixelring found complete
        return "agree_unread" if same_head(px, h, maps) else "framing_differs"
    if pv == "reject":
        return "both_reject" if hv == "reject" else "pixelring_stricter"
    if hv == "reject":
        return "h11_rejects"
    if pv == "incomplete" and hv == "incomplete":
        if "method" in px and "method" in h and not same_head(px, h, maps):
            return "framing_differs"
        return "both_incomplete"
    if pv != hv:
        return "framing_differs"  # one found the end of the message, the other waits for more
    if not same_head(px, h, maps) or px["body"] != h["body"] or px["end"] != h["end"] + delta:
        return "framing_differs"
    return "agree"


# The allowlist: h11 rejects, pixelring accepts, and RFC 9112 is on pixelring's side ----------
# Each class names what h11 said, and either rewrites the one feature away (same length where it
# can) so that h11 is asked again and must then agree with pixelring, or is terminal (the bytes
# in question are never read by pixelring).


@dataclass
class Normalised:
    data: bytes
    delta: int = 0  # bytes removed from the front
    target_map: Optional[Callable[[str], str]] = None


@dataclass
class AllowClass:
    name: str
    kind: str  # "rfc": pixelring follows RFC 9112; "deviation": lenient, reported, not framing
    reason: str
    matches: Callable[[bytes, dict, dict, int], bool]
    normalise: Optional[Callable[[bytes, dict, int], Optional[Normalised]]]  # None: terminal


def _size_lines(data: bytes, start: int):
    """The chunk-size lines of a chunked body at data[start:] that pixelring accepted or is still
    reading: (line start, line end before CRLF). Then ("trailer", offset) at the last chunk."""
    pos = start
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return
        m = re.match(rb"[0-9A-Fa-f]+", data[pos:eol])
        if not m:
            return
        yield pos, eol
        size = int(m.group(0), 16)
        if size == 0:
            yield "trailer", eol + 2
            return
        pos = eol + 2 + size + 2


def _rewrite_size_lines(data: bytes, head: int, rewrite: Callable[[bytes], bytes]) -> bytes:
    out = bytearray(data)
    for start, end in _size_lines(data, head):
        if start == "trailer":
            break
        line = bytes(out[start:end])
        new = rewrite(line)
        assert len(new) == len(line)
        out[start:end] = new
    return bytes(out)


def _drop_zeros(line: bytes) -> bytes:
    # "000...05;e" -> "5;xxx...;e": the same length, at most 17 hex digits, as h11 wants.
    digits = re.match(rb"[0-9A-Fa-f]+", line).group(0)
    if len(digits) <= 20:
        return line
    kept = digits.lstrip(b"0") or b"0"
    k = len(digits) - len(kept)
    return kept + b";" + b"x" * (k - 1) + line[len(digits):]


def _bws_ext(line: bytes) -> bytes:
    # "5 \t;a=b" -> "5;xxa=b"
    m = re.match(rb"([0-9A-Fa-f]+)([ \t]+);", line)
    if not m:
        return line
    return m.group(1) + b";" + b"x" * len(m.group(2)) + line[m.end():]


def _head(px: dict, delta: int) -> int:
    return px["head_length"] - delta


def _has_size_line(data: bytes, px: dict, delta: int, test: Callable[[bytes], bool]) -> bool:
    if px.get("framing") != "chunked" or px.get("body_read") != "buffered":
        return False
    return any(start != "trailer" and test(data[start:end])
               for start, end in _size_lines(data, _head(px, delta)))


def _rename_trailer_framing_fields(data: bytes, px: dict, delta: int) -> Optional[Normalised]:
    trailer = None
    for start, end in _size_lines(data, _head(px, delta)):
        if start == "trailer":
            trailer = end
    if trailer is None:
        return None
    out = bytearray(data)
    pos = trailer
    while True:
        eol = data.find(b"\r\n", pos)
        if eol <= pos:
            break
        name = data[pos:eol].split(b":", 1)[0].lower()
        if name in (b"content-length", b"transfer-encoding"):
            out[pos:pos + 1] = b"X"
        pos = eol + 2
    return Normalised(bytes(out))


def _strip_empty_lines(data: bytes, px: dict, delta: int) -> Normalised:
    n = 0
    while data[n:n + 2] == b"\r\n":
        n += 2
    return Normalised(data[n:], delta=n)


def _obs_text_to_x(text: str) -> str:
    return "".join("x" if ord(c) >= 0x80 else c for c in text)


def _target_obs_text(data: bytes, px: dict, delta: int) -> Normalised:
    eol = data.find(b"\r\n")
    line = bytes(b if b < 0x80 else 0x78 for b in data[:eol])
    return Normalised(line + data[eol:], target_map=_obs_text_to_x)


TRAILER_FRAMING_ERRORS = ("conflicting Content-Length headers", "bad Content-Length",
                          "Only Transfer-Encoding: chunked is supported",
                          "multiple Transfer-Encoding headers")

ALLOWLIST: List[AllowClass] = [
    AllowClass(
        "empty lines before the request line", "rfc",
        "RFC 9112 §2.2: a server SHOULD ignore at least one empty line (CRLF) received before "
        "the request-line; h11 refuses any",
        lambda d, px, h, delta: h.get("reason", "").startswith("no request line received")
        and d.startswith(b"\r\n"),
        _strip_empty_lines),
    AllowClass(
        "obs-text (bytes >= 0x80) in the request-target", "deviation",
        "Not RFC-valid (a URI holds no raw bytes >= 0x80; RFC 9112 §3 says SHOULD answer 400 or "
        "301); a SHOULD, not a framing matter: the line still ends at its CRLF for both",
        lambda d, px, h, delta: h.get("reason", "").startswith("illegal request line")
        and "target" in px and any(ord(c) >= 0x80 for c in px["target"]),
        _target_obs_text),
    AllowClass(
        "chunk-size of more than 20 hex digits (leading zeros)", "rfc",
        "RFC 9112 §7.1: chunk-size = 1*HEXDIG, no length limit; pixelring bounds the value "
        "(16 significant digits), h11 the digit count (20)",
        lambda d, px, h, delta: h.get("reason", "").startswith("illegal chunk header")
        and _has_size_line(d, px, delta, lambda line: _drop_zeros(line) != line),
        lambda d, px, delta: Normalised(_rewrite_size_lines(d, _head(px, delta), _drop_zeros))),
    AllowClass(
        "whitespace between chunk-size and ';'", "rfc",
        "RFC 9112 §7.1.1: chunk-ext = *( BWS \";\" BWS chunk-ext-name ... ); h11 takes no BWS "
        "before the ';'",
        lambda d, px, h, delta: h.get("reason", "").startswith("illegal chunk header")
        and _has_size_line(d, px, delta, lambda line: _bws_ext(line) != line),
        lambda d, px, delta: Normalised(_rewrite_size_lines(d, _head(px, delta), _bws_ext))),
    AllowClass(
        "Content-Length or Transfer-Encoding in the trailer section", "rfc",
        "RFC 9112 §7.1.2: a recipient MAY discard trailer fields, and RFC 9110 §6.5.1 never "
        "lets a trailer frame the message; pixelring discards them, h11 validates them",
        lambda d, px, h, delta: h["stage"] == "body"
        and h.get("reason", "").startswith(TRAILER_FRAMING_ERRORS)
        and px.get("framing") == "chunked",
        _rename_trailer_framing_fields),
    AllowClass(
        "chunked body off the beacon route, never read", "rfc",
        "RFC 9112 §9.3: a server MUST read the whole body or close the connection after its "
        "answer; pixelring answers the head and closes, so it never frames that body",
        lambda d, px, h, delta: px.get("body_read") == "unread" and h["stage"] == "body"
        and px["close"],
        None),
    AllowClass(
        "request line starting with a control byte or space, still incomplete", "rfc",
        "RFC 9112 §3: method = token; pixelring refuses such a line once its CRLF arrives, h11 "
        "from its first byte (only an empty line, CRLF, may come first: §2.2)",
        lambda d, px, h, delta: px["verdict"] == "incomplete" and px["stage"] == "head"
        and h.get("reason") == "illegal request line" and len(d) > 0 and d[0] < 0x21
        and d[:2] != b"\r\n" and d != b"\r",
        None),
]


def explain(data: bytes, px: dict, h: dict) -> Tuple[List[str], str]:
    """The allowlist classes that explain an h11 rejection and the category once they are
    applied: one of ACCEPTABLE when explained."""
    applied: List[str] = []
    delta = 0
    maps: List[Callable[[str], str]] = []
    for _ in range(len(ALLOWLIST)):
        for cls in ALLOWLIST:
            if cls.name in applied or not cls.matches(data, px, h, delta):
                continue
            if cls.normalise is None:
                if "method" in h and not same_head(px, h, maps):
                    return applied + [cls.name], "framing_differs"
                return applied + [cls.name], ("agree_unread" if px["verdict"] == "accept"
                                              else "both_incomplete")
            norm = cls.normalise(data, px, delta)
            if norm is None or norm.data == data:
                continue
            applied.append(cls.name)
            data, delta = norm.data, delta + norm.delta
            if norm.target_map:
                maps.append(norm.target_map)
            h = run_h11(data)
            break
        else:
            return applied, "unexplained"
        category = classify(px, h, delta, maps)
        if category != "h11_rejects":
            return applied, category if category in ACCEPTABLE else "framing_differs"
    return applied, "unexplained"


def self_check() -> List[str]:
    """Problems that would make the comparison blind: a changed end, body, target, method or
    version must be a framing difference; an allowlist class must not explain a case whose
    framing then differs, nor an h11 rejection it does not name."""
    problems = []
    tail = b"GET / HTTP/1.1\r\n"
    data = b"POST /e HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    head = data.index(b"\r\n\r\n") + 4
    good = {"verdict": "accept", "stage": "body", "method": "POST", "target": "/e",
            "version": "1.1", "head_length": head, "framing": "chunked", "body_read": "buffered",
            "body": "abc", "end": len(data), "close": False}
    data += tail
    h = run_h11(data)
    if classify(good, h) != "agree":
        problems.append(f"a plain chunked beacon does not agree: {h}")
    for field, value in [("end", len(data) - len(tail) + 1), ("body", "abcd"), ("target", "/e2"),
                         ("method", "PUT"), ("version", "1.0"), ("verdict", "incomplete")]:
        if classify({**good, field: value}, h) != "framing_differs":
            problems.append(f"a different {field} is not a framing difference")
    lead = b"\r\n" + data
    moved = {**good, "head_length": head + 2, "end": good["end"] + 2}
    if explain(lead, moved, run_h11(lead))[1] != "agree":
        problems.append("an empty line before the request line is not explained")
    if explain(lead, {**moved, "end": moved["end"] + 1}, run_h11(lead))[1] != "framing_differs":
        problems.append("an allowlist class hides a framing difference")
    nul = b"POST /e HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\nContent-Length: 3\r\n\r\nabc"
    fake = {**good, "framing": "content-length", "head_length": len(nul) - 3, "end": len(nul)}
    if explain(nul, fake, run_h11(nul))[1] != "unexplained":
        problems.append("an h11 rejection that no class names is explained")
    return problems


# pixelring's reasons for refusing what h11 takes: which rule lets it ---------------------------

STRICTER_NOTES = {
    "bare LF": "RFC 9112 §2.2: a recipient MAY take a lone LF as a line end; it need not",
    "bare CR": "RFC 9112 §2.2: a bare CR MUST be treated as invalid or replaced by SP",
    "obsolete line folding": "RFC 9112 §5.2: reject with 400 or replace obs-fold by SP",
    "whitespace before colon": "RFC 9112 §5.1: MUST reject with 400",
    "Content-Length with Transfer-Encoding":
        "RFC 9112 §6.1: a server MAY reject a request with both (h11 follows TE)",
    "duplicate Content-Length":
        "RFC 9110 §8.6: identical duplicates MAY be rejected; differing ones are invalid",
    "invalid Content-Length": "RFC 9112 §6.3(5): an invalid Content-Length is answered 400",
    "Content-Length too large": "RFC 9110 §15.5.14: 413 over server.max_body_bytes",
    "Transfer-Encoding in HTTP/1.0": "RFC 9112 §6.1: MUST treat the framing as faulty",
    "unsupported Transfer-Encoding": "RFC 9112 §6.1: unknown coding, 501 (SHOULD)",
    "method not implemented": "RFC 9110 §9.1: an unrecognised method SHOULD get 501",
    "unsupported HTTP version": "RFC 9110 §15.6.6: 505 for a major version not served",
    "invalid HTTP version": "RFC 9112 §2.3: HTTP-version = HTTP-name \"/\" DIGIT \".\" DIGIT",
    "asterisk-form without OPTIONS": "RFC 9112 §3.2.4: asterisk-form is for OPTIONS only",
    "invalid request-target": "RFC 9112 §3.2: origin-form or http(s) absolute-form only here",
    "userinfo in target": "RFC 9110 §4.2.4: userinfo in an http(s) URI SHOULD be an error",
    "empty authority": "RFC 9110 §4.2.1: an empty host MUST be rejected",
    "missing Host": "RFC 9112 §3.2: MUST 400 an HTTP/1.1 request without Host",
    "duplicate Host": "RFC 9112 §3.2: MUST 400 more than one Host",
    "length required": "RFC 9110 §15.5.12: 411 for POST/PUT without a length",
    "request line too long": "RFC 9112 §3: 414 for a target longer than the server parses",
    "head too large": "RFC 6585 §5: 431 over server.max_header_bytes",
    "too many fields": "RFC 6585 §5: 431 over 100 fields",
    "control byte in field": "RFC 9110 §5.5: a field value is VCHAR, obs-text, SP and HTAB",
    "invalid field name": "RFC 9110 §5.1: field-name = token",
    "invalid method": "RFC 9110 §9.1: method = token",
    "invalid chunk size": "RFC 9112 §7.1: chunk-size = 1*HEXDIG",
    "invalid chunk extension": "RFC 9112 §7.1.1: only BWS \";\" may follow the size",
    "control byte in chunk extension": "RFC 9112 §7.1.1: extensions are tokens/quoted-strings",
    "chunk size overflow": "RFC 9112 §7.1: MUST anticipate overflow; over 64 bits refused",
    "chunked body too large": "RFC 9110 §15.5.14: 413 over server.max_body_bytes",
    "chunk data not followed by CRLF": "RFC 9112 §7.1: chunk = chunk-size ... CRLF chunk-data "
                                       "CRLF",
    "invalid trailer field": "RFC 9112 §7.1.2: trailer-section = *( field-line CRLF )",
    "control byte in trailer": "RFC 9110 §5.5: a field value is VCHAR, obs-text, SP and HTAB",
    "chunk framing line too long":
        "RFC 9112 §7.1.1: a server ought to limit chunk extensions and answer 4xx",
}


# Running ----------------------------------------------------------------------------------------


def write_corpus(cases: List[corpus.Case], path: str) -> None:
    with open(path, "wb") as f:
        f.write(b"PXDIFF1\n")
        for c in cases:
            f.write(len(c.data).to_bytes(4, "little"))
            f.write(c.data)


def run_driver(driver: str, corpus_path: str, split: bool) -> List[dict]:
    cmd = [driver] + (["--split"] if split else []) + [corpus_path]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr.decode("utf-8", "replace"))
        raise SystemExit(f"error: {' '.join(cmd)} exited with {proc.returncode}")
    return [json.loads(line) for line in proc.stdout.splitlines()]


def _short(data: bytes, limit: int = 400) -> str:
    text = repr(data)
    return text if len(text) <= limit else text[:limit] + f"... ({len(data)} bytes)"


def _clip(result: dict) -> dict:
    return {k: (v[:2000] + f"...({len(v)} chars)" if isinstance(v, str) and len(v) > 2000 else v)
            for k, v in result.items()}


def _verdict_text(r: dict) -> str:
    if r["verdict"] == "reject":
        return f"reject {r.get('status')} {r.get('reason', '')}"
    if r["verdict"] == "accept":
        return f"accept end={r.get('end')}"
    return f"incomplete ({r.get('stage')})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--driver", required=True, help="path of http_differential_driver")
    ap.add_argument("--cases", type=int,
                    default=int(os.environ.get("PIXELRING_DIFF_CASES", "20000")),
                    help="corpus size (default 20000, or $PIXELRING_DIFF_CASES)")
    ap.add_argument("--seed", type=int, default=9112)
    ap.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "pixelring-differential"),
                    help="directory for corpus.bin, pixelring.jsonl, disagreements.jsonl, "
                         "summary.txt")
    ap.add_argument("--no-split", action="store_true",
                    help="do not also feed pixelring each case in pieces")
    args = ap.parse_args()

    started = time.monotonic()
    problems = self_check()
    if problems:
        for p in problems:
            print(f"self-check: {p}")
        print("FAILED: the comparison itself is broken")
        return 1
    os.makedirs(args.out, exist_ok=True)
    cases = corpus.generate(args.cases, args.seed)
    corpus_path = os.path.join(args.out, "corpus.bin")
    write_corpus(cases, corpus_path)
    t_gen = time.monotonic()
    px_results = run_driver(args.driver, corpus_path, not args.no_split)
    t_px = time.monotonic()
    if len(px_results) != len(cases):
        raise SystemExit(f"error: the driver answered {len(px_results)} of {len(cases)} cases")
    with open(os.path.join(args.out, "pixelring.jsonl"), "w") as f:
        for r in px_results:
            f.write(json.dumps(r) + "\n")

    by_category: Dict[str, int] = collections.Counter()
    by_family: Dict[str, Dict[str, int]] = collections.defaultdict(collections.Counter)
    stricter: Dict[Tuple[int, str], int] = collections.Counter()
    stricter_h11: Dict[Tuple[int, str], Dict[str, int]] = collections.defaultdict(
        collections.Counter)
    explained: Dict[str, int] = collections.Counter()
    status_pairs: Dict[Tuple[int, object], int] = collections.Counter()
    failures: List[dict] = []
    listed = 0
    with open(os.path.join(args.out, "disagreements.jsonl"), "w") as listing:
        for i, (case, px) in enumerate(zip(cases, px_results)):
            h = run_h11(case.data)
            classes: List[str] = []
            if px.get("split_mismatch"):
                category = "split_mismatch"
            else:
                category = classify(px, h)
                if category == "h11_rejects":
                    classes, after = explain(case.data, px, h)
                    category = "explained" if after in ACCEPTABLE else after
            by_category[category] += 1
            by_family[case.family][category] += 1
            if category == "pixelring_stricter":
                key = (px["status"], px["reason"])
                stricter[key] += 1
                stricter_h11[key][h["verdict"]] += 1
            elif category == "explained":
                explained[" + ".join(classes)] += 1
            elif category == "both_reject":
                status_pairs[(px["status"], h.get("status"))] += 1
            if category in ("agree", "agree_unread", "both_reject", "both_incomplete"):
                continue
            entry = {"id": i, "category": category, "classes": classes, "family": case.family,
                     "mutation": case.mutation, "input": _short(case.data, 4000),
                     "pixelring": _clip(px), "h11": _clip(h)}
            listing.write(json.dumps(entry) + "\n")
            listed += 1
            if category in FAILURES:
                failures.append(entry)
    t_h11 = time.monotonic()

    lines: List[str] = []
    say = lines.append
    say(f"differential: {len(cases)} cases, seed {args.seed}; pixelring "
        f"{'whole and in pieces' if not args.no_split else 'whole'}; h11 {h11.__version__}")
    say(f"time: corpus {t_gen - started:.1f} s, pixelring {t_px - t_gen:.1f} s, "
        f"h11 and comparison {t_h11 - t_px:.1f} s")
    say("")
    say(f"{'category':<22}{'cases':>8}")
    for category in ACCEPTABLE + ("explained",) + FAILURES:
        say(f"{category:<22}{by_category.get(category, 0):>8}")
    say("")
    cols = ["agree", "agree_unread", "both_reject", "both_incomplete", "pixelring_stricter",
            "explained"] + list(FAILURES)
    heads = ["agree", "unread", "both_rej", "both_inc", "stricter", "explained", "unexpl",
             "framing", "split"]
    say(f"{'family':<15}{'cases':>7}" + "".join(f"{h:>10}" for h in heads))
    for family in sorted(by_family):
        counts = by_family[family]
        say(f"{family:<15}{sum(counts.values()):>7}" +
            "".join(f"{counts.get(c, 0):>10}" for c in cols))
    say("")
    say("pixelring stricter (pixelring refuses, h11 accepts or waits), by pixelring's reason:")
    for (status, reason), n in sorted(stricter.items(), key=lambda kv: (-kv[1], kv[0])):
        h_side = ", ".join(f"h11 {v} {c}" for v, c in sorted(stricter_h11[(status, reason)].items()))
        say(f"  {n:>6}  {status} {reason}  ({h_side})")
        say(f"          {STRICTER_NOTES.get(reason, '(no note)')}")
    say("")
    say("explained (h11 refuses, pixelring accepts), by allowlist class:")
    for names, n in sorted(explained.items(), key=lambda kv: -kv[1]):
        say(f"  {n:>6}  {names}")
    for cls in ALLOWLIST:
        say(f"          [{cls.kind}] {cls.name}: {cls.reason}")
    say("")
    say("both reject, status pairs (pixelring, h11's hint):")
    for (ps, hs), n in sorted(status_pairs.items(), key=lambda kv: -kv[1]):
        say(f"  {n:>6}  {ps} / {hs}")
    say("")
    say(f"{listed} cases listed in {os.path.join(args.out, 'disagreements.jsonl')}")
    if failures:
        say(f"FAILED: {len(failures)} cases (framing difference, unexplained h11 rejection or "
            f"split mismatch); the first ones:")
        for entry in failures[:20]:
            say(f"  #{entry['id']} {entry['category']} [{entry['family']}: {entry['mutation']}]")
            say(f"      input     {entry['input'][:300]}")
            say(f"      pixelring {_verdict_text(entry['pixelring'])}")
            say(f"      h11       {_verdict_text(entry['h11'])}")
    else:
        say("PASSED: no framing difference, every h11 rejection explained, no split mismatch")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(args.out, "summary.txt"), "w") as f:
        f.write(text)
    sys.stdout.write(text)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
