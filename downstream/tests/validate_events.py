#!/usr/bin/env python3
"""Checks the downstream contract against the real collector.

Starts the pixelring binary given as the first argument on loopback (ports 0, a file sink in
a temporary directory), sends requests on every route that makes an event, with and without
the headers enrichment reads, DNT, and odd input, stops it with SIGTERM, and validates every
event of the file against downstream/event.schema.json (JSON Schema draft 2020-12, formats
checked). It also checks that each request made the events it should, that every event type
and the shapes the schema allows for (params_truncated, dnt, utm, client_ts, target, ...)
turned up, and that the field table of README.md's "The event" section names exactly the
schema's fields.

    validate_events.py PIXELRING [--keep]

Exit 0: all good; 1: a failure, printed with the event and the error; 77: python3-jsonschema
(Debian package) is not installed, or MaxMind's test databases are not in
../shared/testdata/geoip next to the checkout (everything else is still checked and printed).

Three collectors are run one after the other, each with one worker: one with the defaults
(enrichment on, addresses truncated); one with tracking.enrich = false and privacy.ip = full,
on [::1] when the machine has IPv6 loopback; and one with the GeoIP test databases and
127.0.0.1 as a trusted proxy, so that a forwarded address gets country, region, city, asn
and as_org.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime

try:
    import jsonschema
    from jsonschema import Draft202012Validator, FormatChecker
except ImportError:
    print("validate_events: python3-jsonschema is not installed (apt-get install python3-jsonschema); skipped")
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA_PATH = os.path.join(HERE, "..", "event.schema.json")
# MaxMind's GeoIP2/GeoLite2 test databases, next to the checkout (as the other tests read them).
GEOIP_DIR = os.path.join(HERE, "..", "..", "..", "shared", "testdata", "geoip")
GEOIP_CITY = os.path.join(GEOIP_DIR, "GeoIP2-City-Test.mmdb")
GEOIP_ASN = os.path.join(GEOIP_DIR, "GeoLite2-ASN-Test.mmdb")
GEOIP_ADDRESS = "89.160.20.112"  # in both test databases: a Swedish city, AS 29518
README_PATH = os.path.join(HERE, "..", "..", "README.md")

REDIRECT_SECRET = "schema-test-redirect-secret-0123"
ALLOWED_HOST = "allowed.example"
COLLECTOR_NAME = "schema-test"

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
GMAIL_PROXY = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"


class Failure(Exception):
    pass


# ---- HTTP over a plain socket, so that any byte can go into a request --------------------


def exchange(family, port, raw, timeout=5.0):
    """Sends raw (bytes, a whole request with Connection: close) and returns (status, body)."""
    host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect((host, port))
        s.sendall(raw)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    if not m:
        raise Failure(f"no HTTP answer to {raw[:120]!r}: {data[:200]!r}")
    return int(m.group(1)), body


def request(method, target, headers=(), body=None, host=b"px.example.com", version=b"HTTP/1.1"):
    """A request as bytes. target and header values may be str (UTF-8) or bytes (any byte)."""
    b = lambda x: x if isinstance(x, bytes) else x.encode()
    lines = [b(method) + b" " + b(target) + b" " + version]
    if host is not None:
        lines.append(b"Host: " + b(host))
    for name, value in headers:
        lines.append(b(name) + b": " + b(value))
    if body is not None:
        lines.append(b"Content-Length: " + str(len(b(body))).encode())
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + (b(body) if body is not None else b"")


# ---- the collector -------------------------------------------------------------------------


class Collector:
    """The binary on loopback ports 0, writing events to a file in work_dir."""

    def __init__(self, binary, work_dir, name, listen, extra_sets):
        self.dir = os.path.join(work_dir, name)
        os.makedirs(self.dir)
        self.events_path = os.path.join(self.dir, "events.ndjson")
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self.family = socket.AF_INET6 if listen.startswith("[") else socket.AF_INET
        sets = [f"server.listen={listen}", "admin.listen=127.0.0.1:0", "server.workers=1",
                "sink.type=file", f"sink.file.path={self.events_path}",
                f"spool.dir={os.path.join(self.dir, 'spool')}",
                f"collector.name={COLLECTOR_NAME}"] + extra_sets
        args = [binary]
        for s in sets:
            args += ["--set", s]
        self.stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.stderr, cwd=self.dir)
        self.port = self._wait_ready()

    def log(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode(errors="replace")

    def _wait_ready(self):
        ready = re.compile(r"listening on \[?[0-9a-f.:]+\]?:(\d+).* admin [0-9.]+:(\d+) workers")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            m = ready.search(self.log())
            if m:
                return int(m.group(1))
            if self.proc.poll() is not None:
                raise Failure(f"the collector exited with {self.proc.returncode} before it "
                              f"was ready:\n{self.log()}")
            time.sleep(0.02)
        self.kill()
        raise Failure(f"the collector did not log its start line within 15 s:\n{self.log()}")

    def stop(self):
        """SIGTERM, then the events it wrote (lines as bytes)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Failure(f"the collector did not stop within 20 s of SIGTERM:\n{self.log()}")
        finally:
            self.stderr.close()
        if rc != 0:
            raise Failure(f"the collector exited with {rc} after SIGTERM:\n{self.log()}")
        with open(self.events_path, "rb") as f:
            return f.read().splitlines()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def signed_redirect_path(binary, url, action, campaign):
    """The path and query of a /r/ link signed by `pixelring sign-url`."""
    base = "http://signed.invalid"
    out = subprocess.run([binary, "sign-url", url, "--action", action, "--campaign", campaign,
                          "--base", base, "--set", f"redirect.secret={REDIRECT_SECRET}"],
                         capture_output=True, text=True, timeout=20)
    link = out.stdout.strip()
    if out.returncode != 0 or not link.startswith(base + "/r/"):
        raise Failure(f"sign-url failed ({out.returncode}): {out.stdout}{out.stderr}")
    return link[len(base):]


# ---- what is sent ----------------------------------------------------------------------------


def beacon_items():
    """The items of the batch beacon and how many of them are accepted."""
    many = {f"p{i}": i for i in range(64)}
    items = [
        {"action": "pageview", "campaign": "example.com",
         "url": "https://www.example.com/blog/post?utm_source=news&utm_medium=email&utm_campaign=spring&utm_term=a+b&utm_content=hero",
         "referrer": "https://search.example/?q=pixel",
         "params": {"scroll": "70%", "depth": 3, "ratio": 0.25, "dark": True, "empty": ""},
         "ts": 1764412500123},
        {"action": "click", "campaign": None, "url": None, "referrer": None, "params": None,
         "ts": "2026-11-22T10:35:00+01:00"},
        {"action": "minimal"},
        {"action": "creds", "url": "https://alice:s3cret@shop.example/cart",
         "referrer": "https://bob:pw@prev.example/", "ts": 1e300},
        {"action": "not-http", "url": "android-app://com.example/path", "referrer": ""},
        {"action": "x" * 128, "params": many, "unknown_member": {"ignored": [1, 2]}},
        {"action": "ünïcødé", "campaign": "kampagne-\u00e9\u4e2d", "params": {"k\u00e9y": "v\u2603"},
         "url": "https://EXAMPLE.org:8443/Caf%C3%A9/%FF?x=1#frag"},
        {"action": "bad", "params": {"nested": {"no": 1}}},  # rejected in the receipts
        {"action": "y" * 129},  # rejected: longer than 128 bytes
    ]
    return items, 7


def requests_for(binary):
    """(description, raw request, expected status, expected events) for one collector."""
    R = request
    cases = []

    def add(desc, raw, status, events):
        cases.append((desc, raw, status, events))

    # Pixels.
    add("pixel GET gif, Referer with utm, Firefox",
        R("GET", "/track/pageview.gif?campaignID=example.com&scroll-depth=70%25&dark-mode=true",
          [("Referer", "https://example.com/blog/post?utm_source=news&utm_medium=mail"),
           ("User-Agent", FIREFOX), ("Accept-Language", "en-GB")]), 200, 1)
    add("pixel HEAD png, no Referer, no User-Agent",
        R("HEAD", "/track/email-open:ann@example.com.png?campaignID=offer-letter"), 200, 1)
    add("pixel, DNT: 1",
        R("GET", "/track/dnt.gif?campaignID=c", [("DNT", "1"), ("User-Agent", FIREFOX),
                                                   ("Referer", "https://example.com/?utm_source=x")]),
        200, 1)
    add("pixel, Sec-GPC: 1",
        R("GET", "/track/gpc.gif", [("Sec-GPC", "1"), ("User-Agent", IPHONE)]), 200, 1)
    add("pixel, iPhone, mobile",
        R("GET", "/track/mobile.gif?a=1", [("User-Agent", IPHONE)]), 200, 1)
    add("pixel, Googlebot",
        R("GET", "/track/bot.gif", [("User-Agent", GOOGLEBOT)]), 200, 1)
    add("pixel, Gmail image proxy",
        R("GET", "/track/open.gif?campaignID=mail", [("User-Agent", GMAIL_PROXY)]), 200, 1)
    add("pixel, prefetch",
        R("GET", "/track/pre.gif", [("Sec-Purpose", "prefetch"), ("User-Agent", FIREFOX)]), 200, 1)
    add("pixel, X-Forwarded-For of an address the GeoIP test databases know (trusted only in "
        "the geoip run)",
        R("GET", "/track/geo.gif?campaignID=geo", [("X-Forwarded-For", GEOIP_ADDRESS),
                                                   ("User-Agent", FIREFOX)]), 200, 1)
    add("pixel, X-Forwarded-For from an untrusted peer",
        R("GET", "/track/xff.gif", [("X-Forwarded-For", "198.51.100.7"),
                                    ("User-Agent", FIREFOX)]), 200, 1)
    add("pixel, invalid UTF-8 percent-encoded in a key, a value and the action",
        R("GET", "/track/act%FF%C3.gif?k%FE=v%C3%28&ok=%E2%82%AC&lone=%&pct=%zz",
          [("User-Agent", FIREFOX)]), 200, 1)
    add("pixel, raw bytes over 0x7f in the query, Referer and User-Agent",
        R("GET", b"/track/raw.gif?k\xff=\xfe\xc3&utf8=\xe2\x82\xac",
          [("Referer", b"https://ex.example/p\xff?utm_source=\xc3\x28"),
           ("User-Agent", b"Agent\xff/1.0")]), 200, 1)
    add("pixel, 70 params (64 kept, params_truncated)",
        R("GET", "/track/many.gif?campaignID=c&" + "&".join(f"k{i}=v{i}" for i in range(70))),
        200, 1)
    add("pixel, 64 params exactly, repeated keys",
        R("GET", "/track/sixtyfour.gif?" + "&".join(f"k{i}=v{i}" for i in range(64)) + "&k0=again&k1=x"),
        200, 1)
    add("pixel, empty Referer",
        R("GET", "/track/emptyref.gif", [("Referer", ""), ("User-Agent", FIREFOX)]), 200, 1)
    add("pixel, Referer not http(s)",
        R("GET", "/track/app.gif", [("Referer", "android-app://com.example.app/")]), 200, 1)
    add("pixel, Referer with user information, upper-case host and port",
        R("GET", "/track/cred.gif", [("Referer", "https://alice:s3cret@WWW.Example.COM:8443/a%20b?q#f")]),
        200, 1)
    add("pixel, Referer with an IPv6 literal and no path",
        R("GET", "/track/v6.gif", [("Referer", "http://[2001:DB8::1]:80?utm_source=v6")]), 200, 1)
    add("pixel, Referer with a bad host",
        R("GET", "/track/badhost.gif", [("Referer", "http://exa mple.com/x")]), 200, 1)
    add("pixel, '+' as space, empty campaignID, empty key and value, key without '='",
        R("GET", "/track/plus.gif?campaignID=&q=a+b%2Bc&=v&k=&flag&&x=1"), 200, 1)
    add("pixel, HTTP/1.0 without Host",
        R("GET", "/track/nohost.gif?a=b", host=None, version=b"HTTP/1.0"), 200, 1)
    add("pixel, quotes, backslashes and controls escaped",
        R("GET", "/track/esc.gif?q=%22%5C%01%1F%7F&%0A=nl",
          [("User-Agent", 'say "hi" \\ back')]), 200, 1)

    # Beacons.
    items, accepted = beacon_items()
    add("beacon, a batch of several items with receipts",
        R("POST", "/e?receipts=1", [("Content-Type", "text/plain;charset=UTF-8"),
                                    ("Origin", "https://www.example.com"),
                                    ("User-Agent", FIREFOX)], json.dumps(items)), 200, accepted)
    add("beacon, one object, application/json, no User-Agent",
        R("POST", "/e", [("Content-Type", "application/json")],
          json.dumps({"action": "signup", "campaign": "spring", "params": {"plan": "pro"},
                      "url": "https://shop.example/signup?utm_source=ad"})), 204, 1)
    add("beacon, DNT: 1",
        R("POST", "/e", [("Content-Type", "text/plain"), ("DNT", "1"), ("User-Agent", IPHONE)],
          json.dumps([{"action": "dnt-beacon", "url": "https://example.com/"}])), 204, 1)
    add("beacon, a number client_ts beyond a double (whole body refused)",
        R("POST", "/e", [("Content-Type", "text/plain")], '[{"action":"big","ts":1e400}]'), 400, 0)
    add("beacon, invalid JSON",
        R("POST", "/e", [("Content-Type", "text/plain")], '[{"action":'), 400, 0)

    # REST tuples.
    add("rest, action, campaign and params",
        R("GET", "/tr/v1/action/signup/campaign/spring/plan/pro/empty/",
          [("User-Agent", FIREFOX), ("Referer", "https://example.com/pricing?utm_source=blog")]),
        204, 1)
    add("rest, HEAD, default action, campaignID, percent-decoding, '+' kept",
        R("HEAD", "/tr/v1/campaignID/c%2Fd/k%20ey/a+b%FF/action/"), 204, 1)
    add("rest, DNT: 1",
        R("GET", "/tr/v1/action/x", [("DNT", "1"), ("User-Agent", FIREFOX)]), 204, 1)
    add("rest, 66 pairs (64 params kept, params_truncated)",
        R("GET", "/tr/v1/" + "/".join(f"k{i}/v{i}" for i in range(66))), 204, 1)
    add("rest, 67 pairs (refused)",
        R("GET", "/tr/v1/" + "/".join(f"k{i}/v{i}" for i in range(67))), 400, 0)
    add("rest, odd number of segments (refused)", R("GET", "/tr/v1/k/v/k2"), 400, 0)

    # Redirects.
    signed = signed_redirect_path(binary, "https://shop.example/sale?x=1&y=%C3%A9", "click", "spring")
    add("redirect, signed", R("GET", signed + "&extra=1", [("User-Agent", FIREFOX),
                                                          ("Referer", "https://mail.example/")]),
        302, 1)
    add("redirect, HEAD, allowed host, DNT: 1",
        R("HEAD", f"/r/out?url=https%3A%2F%2F{ALLOWED_HOST}%2Fpath&campaignID=c&k=v",
          [("DNT", "1"), ("User-Agent", FIREFOX)]), 302, 1)
    add("redirect, signature of another target (refused)",
        R("GET", signed.replace("sale", "sal3")), 400, 0)
    return cases


# ---- checks ------------------------------------------------------------------------------------


def format_checker():
    """The validator's format checker; date-time added when the installed jsonschema has no
    checker of its own for it (Debian's checks it only with python3-rfc3339-validator)."""
    checker = FormatChecker()
    if "date-time" not in checker.checkers:
        @checker.checks("date-time", raises=ValueError)
        def date_time(value):
            if not isinstance(value, str):
                return True
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", value):
                raise ValueError(f"{value!r} is not an RFC 3339 date-time")
            datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
            return True
    missing = {"date-time", "uuid", "ipv4", "ipv6"} - set(checker.checkers)
    if missing:
        raise Failure(f"the installed jsonschema cannot check the formats {sorted(missing)}")
    return checker


def strict_object(pairs):
    names = [k for k, _ in pairs]
    if len(names) != len(set(names)):
        raise ValueError(f"duplicate member names {sorted({n for n in names if names.count(n) > 1})}")
    return dict(pairs)


def reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def parse_events(lines, where):
    events = []
    for n, line in enumerate(lines, 1):
        try:
            text = line.decode("utf-8")
            events.append(json.loads(text, object_pairs_hook=strict_object,
                                     parse_constant=reject_constant))
        except ValueError as e:
            raise Failure(f"{where}, line {n} is not one strict UTF-8 JSON value: {e}\n{line!r}")
    return events


def validate(validator, events, where):
    bad = 0
    for n, event in enumerate(events, 1):
        errors = sorted(validator.iter_errors(event), key=lambda e: list(e.absolute_path))
        for err in errors[:5]:
            at = "/".join(str(p) for p in err.absolute_path) or "(the event)"
            print(f"FAIL {where}, event {n}: at {at}: {err.message}\n  schema path: "
                  f"{'/'.join(str(p) for p in err.absolute_schema_path)}")
        if errors:
            print(f"  event: {json.dumps(event, ensure_ascii=False)}")
            bad += 1
    return bad


# Shapes the corpus must contain, so that a change that stops writing one is noticed.
COVERAGE = [
    ("a pixel", lambda e: e["type"] == "pixel"),
    ("a beacon", lambda e: e["type"] == "beacon"),
    ("a rest event", lambda e: e["type"] == "rest"),
    ("a redirect", lambda e: e["type"] == "redirect"),
    ("params_truncated", lambda e: e.get("params_truncated") is True),
    ("64 params", lambda e: len(e["params"]) == 64),
    ("dnt true, without visitor, ip and ua",
     lambda e: e.get("dnt") is True and not {"visitor", "ip", "ua"} & e.keys()),
    ("dnt false with visitor", lambda e: e.get("dnt") is False and "visitor" in e),
    ("a utm object", lambda e: "utm" in e),
    ("all five utm members", lambda e: len(e.get("utm", {})) == 5),
    ("a number client_ts", lambda e: isinstance(e.get("client_ts"), (int, float))),
    ("a string client_ts", lambda e: isinstance(e.get("client_ts"), str)),
    ("a target", lambda e: isinstance(e.get("target"), str)),
    ("a beacon referrer", lambda e: isinstance(e["referrer"], str)),
    ("url null", lambda e: e["url"] is None),
    ("url without path and page_host", lambda e: e["url"] is not None and e["page_host"] is None),
    ("an IPv6 page_host", lambda e: ":" in (e["page_host"] or "")),
    ("campaign null", lambda e: e["campaign"] is None),
    ("campaign empty", lambda e: e["campaign"] == ""),
    ("host null", lambda e: e["host"] is None),
    ("U+FFFD for invalid UTF-8", lambda e: "\ufffd" in json.dumps(e, ensure_ascii=False)),
    ("agent bot", lambda e: e.get("agent") == "bot"),
    ("agent mail_proxy", lambda e: e.get("agent") == "mail_proxy"),
    ("agent prefetch", lambda e: e.get("agent") == "prefetch"),
    ("device mobile", lambda e: e.get("device") == "mobile"),
    ("browser and os", lambda e: "browser" in e and "os" in e),
    ("no enrichment members", lambda e: "dnt" not in e and "agent" not in e),
    ("an IPv4 ip", lambda e: "." in e.get("ip", "")),
]


# Edits of real events that the schema must refuse, so that a schema loosened by mistake (a
# typo in a keyword is silently ignored by JSON Schema) is noticed: (what, type, edit).
def _set(**members):
    return lambda e: {**e, **members}


def _drop(name):
    return lambda e: {k: v for k, v in e.items() if k != name}


MUST_REFUSE = [
    ("no id", "pixel", _drop("id")),
    ("an id that is not a UUIDv7", "pixel", _set(id="01a2506c-d790-437a-a7c7-cc8cf6704ebd")),
    ("ts without milliseconds", "pixel", _set(ts="2026-11-22T10:35:00Z")),
    ("ts on day 32", "pixel", _set(ts="2026-11-32T10:35:00.000Z")),
    ("v 2", "pixel", _set(v=2)),
    ("an unknown type", "pixel", _set(type="click")),
    ("an unknown member", "pixel", _set(extra="x")),
    ("an empty action", "pixel", _set(action="")),
    ("a number params value", "pixel", _set(params={"k": 1})),
    ("65 params", "pixel", _set(params={f"k{i}": "v" for i in range(65)})),
    ("campaignID in params", "pixel", _set(params={"campaignID": "c"})),
    ("params_truncated false", "pixel", _set(params_truncated=False)),
    ("a pixel with a target", "pixel", _set(target="https://x.example/")),
    ("a pixel with client_ts", "pixel", _set(client_ts=1)),
    ("a pixel with a referrer", "pixel", _set(referrer="https://x.example/")),
    ("no url member", "pixel", _drop("url")),
    ("a path without a url", "pixel", _set(url=None, path="/", page_host="x.example")),
    ("an upper-case page_host", "pixel", _set(url="https://X.example/", path="/", page_host="X.example")),
    ("a 16-digit visitor", "pixel", _set(visitor="5f0c8e3b9a1d2c47", dnt=False)),
    ("an ip that is not one", "pixel", _set(ip="127.0.0")),
    ("an unknown agent", "pixel", _set(agent="robot")),
    ("agent without dnt", "pixel", lambda e: {**_drop("dnt")(e), "agent": "bot", "device": "bot"}),
    ("dnt true with a visitor", "pixel", _set(dnt=True, agent="bot", device="bot",
                                              visitor="0" * 32)),
    ("an empty utm object", "pixel", _set(utm={}, dnt=False, agent="bot", device="bot")),
    ("asn 0", "pixel", _set(asn=0, dnt=False, agent="bot", device="bot")),
    ("a redirect without target", "redirect", _drop("target")),
    ("a rest event with an action param", "rest", _set(params={"action": "x"})),
    ("a beacon with params_truncated", "beacon", _set(params_truncated=True)),
    ("a beacon action of 129 characters", "beacon", _set(action="a" * 129)),
    ("a beacon client_ts of 65 characters", "beacon", _set(client_ts="1" * 65)),
]


def check_refusals(validator, events):
    failures = 0
    for what, type_, edit in MUST_REFUSE:
        sample = next((e for e in events if e["type"] == type_), None)
        if sample is not None and validator.is_valid(edit(sample)):
            print(f"FAIL the schema accepts an event with {what}")
            failures += 1
    return failures


GEO_COVERAGE = [
    ("country, region, city, asn and as_org (GeoIP)",
     lambda e: all(k in e for k in ("country", "region", "city", "asn", "as_org"))),
]


def check_coverage(events, coverage=COVERAGE):
    missing = [name for name, seen in coverage if not any(seen(e) for e in events)]
    for name in missing:
        print(f"FAIL coverage: no event with {name}")
    return len(missing)


def readme_fields(readme_text):
    """The field names of the table in README.md's "The event" section."""
    m = re.search(r"^## The event\n(.*?)(?=^## )", readme_text, re.M | re.S)
    if not m:
        raise Failure("README.md has no \"## The event\" section")
    rows = [line for line in m.group(1).splitlines() if line.startswith("|")]
    if len(rows) < 3 or not re.match(r"\|\s*field\s*\|", rows[0]):
        raise Failure("README.md's \"The event\" section has no | field | meaning | table")
    names = set()
    for row in rows[2:]:
        first = row.split("|")[1]
        names.update(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", first))
    return names


def check_readme(schema, readme_path):
    with open(readme_path, encoding="utf-8") as f:
        in_readme = readme_fields(f.read())
    in_schema = set(schema["properties"])
    drift = 0
    for name in sorted(in_readme - in_schema):
        print(f"FAIL README.md's event table names `{name}`, which event.schema.json lacks")
        drift += 1
    for name in sorted(in_schema - in_readme):
        print(f"FAIL event.schema.json has `{name}`, which README.md's event table lacks")
        drift += 1
    return drift


# ---- main --------------------------------------------------------------------------------------


def has_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def run_collector(binary, work_dir, name, listen, sets):
    collector = Collector(binary, work_dir, name, listen, sets)
    try:
        cases = requests_for(binary)
        expected = 0
        for desc, raw, status, events in cases:
            got, body = exchange(collector.family, collector.port, raw)
            if got != status:
                raise Failure(f"{name}: {desc}: status {got}, expected {status}; body "
                              f"{body[:300]!r}\nrequest: {raw[:300]!r}")
            expected += events
    except BaseException:
        collector.kill()
        raise
    lines = collector.stop()
    if len(lines) != expected:
        raise Failure(f"{name}: {len(lines)} events in the file, expected {expected}\n"
                      f"{collector.log()}")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("binary", help="the pixelring binary")
    parser.add_argument("--schema", default=SCHEMA_PATH)
    parser.add_argument("--readme", default=README_PATH)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    with open(args.schema, encoding="utf-8") as f:
        schema = json.load(f)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema, format_checker=format_checker())

    failures = check_readme(schema, args.readme)

    work_dir = tempfile.mkdtemp(prefix="pixelring-schema-")
    binary = os.path.abspath(args.binary)
    common = [f"redirect.secret={REDIRECT_SECRET}", f'redirect.allow_hosts=["{ALLOWED_HOST}"]']
    runs = [("enriched", "127.0.0.1:0", common),
            ("plain", "[::1]:0" if has_ipv6_loopback() else "127.0.0.1:0",
             common + ["tracking.enrich=false", "privacy.ip=full"])]
    have_geoip = os.path.exists(GEOIP_CITY) and os.path.exists(GEOIP_ASN)
    if have_geoip:
        runs.append(("geoip", "127.0.0.1:0",
                     common + [f"geoip.city_db={os.path.abspath(GEOIP_CITY)}",
                               f"geoip.asn_db={os.path.abspath(GEOIP_ASN)}",
                               'server.trusted_proxies=["127.0.0.1/32"]']))
    else:
        print(f"validate_events: no GeoIP test databases in {os.path.abspath(GEOIP_DIR)}: "
              "the run with GeoIP members is skipped")
    all_events = []
    try:
        for name, listen, sets in runs:
            events = parse_events(run_collector(binary, work_dir, name, listen, sets), name)
            failures += validate(validator, events, name)
            counts = {t: sum(e.get("type") == t for e in events)
                      for t in ("pixel", "beacon", "rest", "redirect")}
            print(f"{name} ({listen}): {len(events)} events: "
                  + ", ".join(f"{n} {t}" for t, n in counts.items()))
            all_events += events
        failures += check_coverage(all_events)
        if have_geoip:
            failures += check_coverage(all_events, GEO_COVERAGE)
        failures += check_refusals(validator, all_events)
    except Failure as e:
        print(f"FAIL {e}")
        failures += 1
    finally:
        if args.keep:
            print(f"kept {work_dir}")
        else:
            shutil.rmtree(work_dir, ignore_errors=True)

    if failures:
        print(f"validate_events: {failures} failure(s)")
        return 1
    print(f"validate_events: {len(all_events)} events valid against {os.path.basename(args.schema)}; "
          f"README.md's event table matches it")
    return 0 if have_geoip else 77


if __name__ == "__main__":
    sys.exit(main())
