"""The corpus of the differential test: mutated HTTP/1.1 requests, deterministic for a seed.

generate(count, seed) returns `count` Cases. Every named variant of every mutation family comes
first, once each, so that even a small corpus holds every shape; then random variants on random
base requests, a third of them with a second mutation on top, fill the rest. Python's
random.Random gives the same sequence for a seed on every Python 3 version, and nothing here
iterates over a set, so the corpus is the same bytes on every run and machine.
"""

from __future__ import annotations

import random
from typing import List, Tuple

import mutations_body as body
import mutations_head as head
from requests_model import Case, Request, any_base


FAMILIES = {
    "cl_te": head.family_cl_te,
    "te": head.family_te,
    "cl": head.family_cl,
    "cl_dup": head.family_cl_dup,
    "whitespace": head.family_whitespace,
    "obs_fold": head.family_obs_fold,
    "line_endings": head.family_line_endings,
    "bytes": head.family_bytes,
    "version": head.family_version,
    "host": head.family_host,
    "target": head.family_target,
    "method": head.family_method,
    "chunk_size": body.family_chunk_size,
    "chunk_ext": body.family_chunk_ext,
    "chunk_framing": body.family_chunk_framing,
    "trailers": body.family_trailers,
    "leading": head.family_leading,
    "connection": head.family_connection,
    "limits": head.family_limits,
    "truncation": head.family_truncation,
}

# Byte-level mutations of a whole valid request: the random family, and the second mutation
# laid over a third of the structured cases.
RANDOM_INSERTS = [b"\r", b"\n", b"\r\n", b" ", b"\t", b":", b",", b";", b"0", b"\x00", b"\x80",
                  b"\r\n ", b"\r\n\r\n", b"chunked", b"Content-Length: 0\r\n"]


def random_byte_mutation(rng: random.Random, data: bytes) -> Tuple[bytes, str]:
    if not data:
        return data, "none"
    op = rng.choice(["replace", "insert", "delete", "duplicate", "swap case"])
    at = rng.randrange(len(data))
    if op == "replace":
        return data[:at] + rng.choice(RANDOM_INSERTS)[:1] + data[at + 1:], op
    if op == "insert":
        return data[:at] + rng.choice(RANDOM_INSERTS) + data[at:], op
    if op == "delete":
        return data[:at] + data[at + 1:], op
    if op == "duplicate":
        end = min(len(data), at + rng.randrange(1, 24))
        return data[:end] + data[at:end] + data[end:], op
    c = data[at:at + 1]
    return data[:at] + (c.lower() if c.isupper() else c.upper()) + data[at + 1:], op


def _render(made: object) -> bytes:
    return made.bytes() if isinstance(made, Request) else made


def generate(count: int, seed: int) -> List[Case]:
    rng = random.Random(seed)
    variants = [(family, name, make) for family, build in FAMILIES.items()
                for name, make in build()]
    cases: List[Case] = []
    for family, name, make in variants:
        cases.append(Case(_render(make(rng)), family, name))
    families = list(FAMILIES) + ["random"] * 3
    by_family = {}
    for family, name, make in variants:
        by_family.setdefault(family, []).append((name, make))
    while len(cases) < count:
        family = rng.choice(families)
        if family == "random":
            data = any_base(rng).bytes()
            ops = []
            for _ in range(rng.choice([1, 1, 2, 3])):
                data, op = random_byte_mutation(rng, data)
                ops.append(op)
            cases.append(Case(data, "random", " + ".join(ops)))
            continue
        name, make = rng.choice(by_family[family])
        data = _render(make(rng))
        if len(data) > 8192 and rng.random() < 0.9:
            continue  # the limit cases (16 KiB heads, 64 KiB bodies): fewer repeats, same reach
        if rng.random() < 0.33:
            data, op = random_byte_mutation(rng, data)
            name += " + random " + op
        cases.append(Case(data, family, name))
    return cases[:count]
