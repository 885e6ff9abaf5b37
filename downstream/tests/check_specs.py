#!/usr/bin/env python3
"""Check that the Druid and Flink specs of downstream/ agree with event.schema.json.

Reads the schema, the two Druid supervisor specs and the Flink source table of events.sql,
and checks that:
  - every field a Druid spec names (timestampSpec column, dimensions, flattenSpec paths,
    metric fieldNames) is a member of the event, and has a type the Druid column can hold;
  - every column of the Flink Kafka source table (nested ROW fields too) is a member of the
    event with a compatible type;
  - every top-level member of the event is a column of the raw Druid spec and of the Flink
    table, or is listed below as left out on purpose;
  - the specs' fixed settings (topic, timestamp format, rollup, granularities) are as the
    READMEs describe them.

Prints what it checked. Exit status: 0 when everything agrees, 1 on any mismatch (each one
printed), 77 when python3-jsonschema is missing.

Usage: check_specs.py [--schema FILE] [--druid-dir DIR] [--flink-sql FILE]
"""

import argparse
import json
import os
import re
import sys

try:
    import jsonschema
except ImportError:
    print("check_specs: python3-jsonschema is not installed (apt-get install python3-jsonschema); skipped")
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
DOWNSTREAM = os.path.dirname(HERE)

TOPIC = "pixelring.events"

# Top-level members of the event that are deliberately not a column, with the reason.
# Every other member must be one; a member added to the schema and to neither list fails.
DRUID_RAW_LEFT_OUT = {
    "ts": "it is the timestampSpec column, Druid's __time, not a dimension",
    "utm": "flattened into utm_source, utm_medium, utm_campaign, utm_term and utm_content",
}
FLINK_LEFT_OUT = {}

# The raw Druid spec must keep these: without id a consumer cannot de-duplicate.
DRUID_RAW_REQUIRED_DIMENSIONS = ["id"]

errors = []
checked = []


def error(msg):
    errors.append(msg)
    print("  MISMATCH: " + msg)


def ok(msg):
    checked.append(msg)
    print("  ok: " + msg)


# ---------------------------------------------------------------------------------------
# The schema: what members exist, where, and which JSON types each may take.

JSON_TYPES = {"string", "number", "integer", "boolean", "object", "array", "null"}


def value_type(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def types_of(sub):
    """The JSON types a (sub)schema allows, from type, const or enum. None: not said here."""
    if sub is True or sub is False or not isinstance(sub, dict):
        return None
    if "type" in sub:
        t = sub["type"]
        return set([t] if isinstance(t, str) else t)
    if "const" in sub:
        return {value_type(sub["const"])}
    if "enum" in sub:
        return {value_type(v) for v in sub["enum"]}
    return None


class Member:
    def __init__(self, path, sub):
        self.path = path          # e.g. "utm.source"
        self.sub = sub            # the member's subschema in "properties"
        self.types = types_of(sub) or set()
        self.where = ["properties"]
        self.absent_for = []      # event types whose if/then branch forbids the member

    def describe(self):
        d = "/".join(sorted(self.types)) or "any"
        if self.absent_for:
            d += ", never in " + "/".join(self.absent_for)
        return d


def collect_members(schema):
    """Top-level members: the base properties, plus any member named in an allOf/if/then/else
    branch or in dependentSchemas (a branch may narrow a member's type; it must not name a
    member the base does not know, as additionalProperties is false)."""
    members = {}
    for name, sub in schema.get("properties", {}).items():
        members[name] = Member(name, sub)

    def branch(sub, where, event_type=None):
        if not isinstance(sub, dict):
            return
        for name, s in sub.get("properties", {}).items():
            if name not in members:
                error(f"schema: {where} names member '{name}' that 'properties' does not define")
                continue
            members[name].where.append(where)
            if s is False and event_type:
                members[name].absent_for.append(event_type)
            narrowed = types_of(s)
            if narrowed and members[name].types and not narrowed <= members[name].types:
                error(f"schema: {where} gives '{name}' type {sorted(narrowed)} outside its base {sorted(members[name].types)}")
        for name in sub.get("required", []):
            if name not in members:
                error(f"schema: {where} requires member '{name}' that 'properties' does not define")

    for i, part in enumerate(schema.get("allOf", [])):
        cond = part.get("if", {}).get("properties", {})
        label = ",".join(f"{k}={v.get('const', '...')}" if isinstance(v, dict) else k for k, v in cond.items())
        type_cond = cond.get("type", {}) if isinstance(cond.get("type"), dict) else {}
        for key in ("then", "else"):
            if key in part:
                branch(part[key], f"allOf[{i}] ({label}) {key}",
                       type_cond.get("const") if key == "then" else None)
    for name, sub in schema.get("dependentSchemas", {}).items():
        branch(sub, f"dependentSchemas[{name}]")
    return members


def nested_member(members, dotted):
    """A member by dotted path ("utm.source", "params"); None when the schema has none.
    For an object whose keys are free (params), any key resolves to additionalProperties."""
    parts = dotted.split(".")
    if parts[0] not in members:
        return None
    m = members[parts[0]]
    sub = m.sub
    path = parts[0]
    for p in parts[1:]:
        if not isinstance(sub, dict) or "object" not in (types_of(sub) or set()):
            return None
        props = sub.get("properties", {})
        path += "." + p
        if p in props:
            sub = props[p]
        elif isinstance(sub.get("additionalProperties"), dict):
            sub = sub["additionalProperties"]
        else:
            return None
        m = Member(path, sub)
    return m


def is_string_map(sub):
    return (isinstance(sub, dict) and "object" in (types_of(sub) or set())
            and not sub.get("properties")
            and isinstance(sub.get("additionalProperties"), dict)
            and types_of(sub["additionalProperties"]) == {"string"})


def max_integer(sub):
    if "const" in sub and isinstance(sub["const"], int):
        return sub["const"]
    if "enum" in sub:
        return max(v for v in sub["enum"] if isinstance(v, int))
    return sub.get("maximum")


# ---------------------------------------------------------------------------------------
# Druid

def druid_field_compatible(dim_type, m):
    """Can a Druid dimension of dim_type hold member m? Returns None or the reason it cannot."""
    t = m.types - {"null"}
    if dim_type == "string":
        if t <= {"string"}:
            return None
        if t == {"number", "string"} or t == {"integer", "string"}:
            # client_ts: a number becomes its text in a string column, which is what we want.
            return None
        return f"a string dimension for '{m.path}' of type {m.describe()} (use long, double or json)"
    if dim_type == "long":
        if t and t <= {"integer", "boolean"}:
            return None
        return f"a long dimension needs an integer or boolean member, '{m.path}' is {m.describe()}"
    if dim_type in ("double", "float"):
        if t and t <= {"integer", "number"}:
            return None
        return f"a {dim_type} dimension needs a numeric member, '{m.path}' is {m.describe()}"
    if dim_type in ("json", "auto"):
        return None
    return f"unknown dimension type '{dim_type}'"


def parse_json_path(expr):
    m = re.fullmatch(r"\$((?:\.[A-Za-z_][A-Za-z0-9_]*)+)", expr)
    if not m:
        return None
    return m.group(1)[1:]


def check_druid(path, members, raw):
    print(f"Druid: {os.path.relpath(path, DOWNSTREAM)}")
    try:
        with open(path) as f:
            spec = json.load(f)
    except (OSError, ValueError) as e:
        error(f"{path}: cannot read: {e}")
        return
    name = os.path.basename(path)
    if spec.get("type") != "kafka":
        error(f"{name}: type is {spec.get('type')!r}, not 'kafka'")
    s = spec.get("spec", {})
    ds = s.get("dataSchema", {})
    io = s.get("ioConfig", {})
    if io.get("topic") != TOPIC:
        error(f"{name}: ioConfig.topic is {io.get('topic')!r}, not {TOPIC!r}")
    else:
        ok(f"{name}: topic {TOPIC}")
    if "bootstrap.servers" not in io.get("consumerProperties", {}):
        error(f"{name}: ioConfig.consumerProperties has no bootstrap.servers")
    fmt = io.get("inputFormat", {})
    if fmt.get("type") != "json":
        error(f"{name}: ioConfig.inputFormat.type is {fmt.get('type')!r}, not 'json'")

    # The row Druid sees: flattened fields by name, plus root fields when discovered.
    flatten = fmt.get("flattenSpec", {})
    discovery = flatten.get("useFieldDiscovery", True)
    row = {}   # row field name -> Member
    for fld in flatten.get("fields", []):
        ftype = fld.get("type", "root")
        fname = fld.get("name")
        if ftype == "root":
            expr = fname
        elif ftype == "path":
            expr = parse_json_path(fld.get("expr", ""))
            if expr is None:
                error(f"{name}: flattenSpec field '{fname}': path {fld.get('expr')!r} is not of the form $.a.b")
                continue
        else:
            error(f"{name}: flattenSpec field '{fname}': type '{ftype}' is not checked by this script")
            continue
        m = nested_member(members, expr)
        if m is None:
            error(f"{name}: flattenSpec field '{fname}' reads '{expr}', which the schema does not have")
            continue
        row[fname] = m
        ok(f"{name}: flattenSpec {fname} <- {fld.get('expr', fname)} ({m.describe()})")

    def row_field(fname):
        if fname in row:
            return row[fname]
        if discovery and fname in members:
            m = members[fname]
            # Field discovery takes only scalar root members, never an object.
            if "object" in m.types:
                error(f"{name}: '{fname}' is an object: field discovery skips it, name it in flattenSpec")
                return None
            return m
        return None

    ts = ds.get("timestampSpec", {})
    tcol = ts.get("column")
    m = row_field(tcol) if tcol else None
    if m is None:
        error(f"{name}: timestampSpec column {tcol!r} is not a member of the event")
    elif m.sub.get("format") != "date-time" or m.types - {"null"} != {"string"}:
        error(f"{name}: timestampSpec column '{tcol}' is not a date-time string in the schema")
    elif "null" in m.types:
        error(f"{name}: timestampSpec column '{tcol}' may be null")
    elif ts.get("format") not in ("iso", "auto"):
        error(f"{name}: timestampSpec format {ts.get('format')!r}: the event's ts is ISO-8601")
    else:
        ok(f"{name}: timestampSpec {tcol} ({ts.get('format')}) is the date-time member '{m.path}'")

    dims = ds.get("dimensionsSpec", {}).get("dimensions", [])
    names = []
    for d in dims:
        if isinstance(d, str):
            d = {"type": "string", "name": d}
        dname, dtype = d.get("name"), d.get("type", "string")
        names.append(dname)
        m = row_field(dname)
        if m is None:
            error(f"{name}: dimension '{dname}' ({dtype}) is neither a member of the event nor a flattenSpec field")
            continue
        why = druid_field_compatible(dtype, m)
        if why:
            error(f"{name}: dimension '{dname}': {why}")
        else:
            ok(f"{name}: dimension {dname} {dtype} <- {m.path} ({m.describe()})")
    if len(set(names)) != len(names):
        error(f"{name}: a dimension is named twice")

    for metric in ds.get("metricsSpec", []):
        mname, mtype = metric.get("name"), metric.get("type")
        fields = [metric["fieldName"]] if "fieldName" in metric else list(metric.get("fieldNames", []))
        if mtype == "count":
            ok(f"{name}: metric {mname} count")
            continue
        for fn in fields:
            m = row_field(fn)
            if m is None:
                error(f"{name}: metric '{mname}' reads '{fn}', not a member of the event")
                continue
            t = m.types - {"null"}
            if mtype in ("longSum", "longMin", "longMax") and not t <= {"integer", "boolean"}:
                error(f"{name}: metric '{mname}' ({mtype}) of '{fn}' ({m.describe()})")
            elif mtype in ("doubleSum", "doubleMin", "doubleMax", "floatSum") and not t <= {"integer", "number"}:
                error(f"{name}: metric '{mname}' ({mtype}) of '{fn}' ({m.describe()})")
            elif mtype in ("hyperUnique", "cardinality", "HLLSketchBuild", "thetaSketch") and "object" in t:
                error(f"{name}: metric '{mname}' ({mtype}) of object '{fn}'")
            else:
                ok(f"{name}: metric {mname} {mtype} <- {fn} ({m.describe()})")

    gran = ds.get("granularitySpec", {})
    rollup = gran.get("rollup", True)
    qg = str(gran.get("queryGranularity", "NONE")).upper()
    sg = str(gran.get("segmentGranularity", "")).upper()
    if sg not in ("HOUR", "DAY"):
        error(f"{name}: segmentGranularity {sg!r}, expected HOUR or DAY")
    if raw:
        if rollup is not False or qg != "NONE":
            error(f"{name}: the raw spec needs rollup false and queryGranularity none (rollup={rollup}, {qg})")
        else:
            ok(f"{name}: rollup false, queryGranularity NONE, segments {sg}")
        for req in DRUID_RAW_REQUIRED_DIMENSIONS:
            if req not in names:
                error(f"{name}: dimension '{req}' is missing (consumers de-duplicate on it)")
        # The reverse: every top-level member is a column, or left out with a reason.
        used_roots = {m.path.split(".")[0] for n, m in row.items() if n in names}
        used_roots |= {n for n in names if n in members}
        for member in members:
            if member in used_roots:
                continue
            if member in DRUID_RAW_LEFT_OUT:
                if member == "utm" and not any(m.path.startswith("utm.") for n, m in row.items() if n in names):
                    error(f"{name}: 'utm' is said to be flattened, but no dimension reads utm.*")
                continue
            error(f"{name}: member '{member}' is no dimension and not in DRUID_RAW_LEFT_OUT")
        for member in DRUID_RAW_LEFT_OUT:
            if member not in members:
                error(f"check_specs.py: DRUID_RAW_LEFT_OUT names '{member}', which the schema does not have")
        if "utm" in members:
            for key in members["utm"].sub.get("properties", {}):
                if not any(m.path == f"utm.{key}" and n in names for n, m in row.items()):
                    error(f"{name}: utm member '{key}' is not flattened into a dimension")
        ok(f"{name}: every top-level member is a dimension, the timestamp or left out on purpose "
           f"({', '.join(f'{k}: {v}' for k, v in DRUID_RAW_LEFT_OUT.items())})")
    else:
        if rollup is not True or qg != "MINUTE":
            error(f"{name}: the rollup spec needs rollup true and queryGranularity minute (rollup={rollup}, {qg})")
        else:
            ok(f"{name}: rollup true, queryGranularity MINUTE, segments {sg}")
        if not any(mm.get("type") == "count" for mm in ds.get("metricsSpec", [])):
            error(f"{name}: no count metric")


# ---------------------------------------------------------------------------------------
# Flink

def strip_sql_comments(text):
    out = []
    for line in text.splitlines():
        # Good enough for our file: no "--" inside string literals.
        i = line.find("--")
        out.append(line if i < 0 else line[:i])
    return "\n".join(out)


def split_top(s, sep=","):
    """Split s at sep outside (), <> and quotes."""
    parts, depth, cur, quote = [], 0, [], None
    for ch in s:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "'`":
            quote = ch
        elif ch in "(<":
            depth += 1
        elif ch in ")>":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur).strip())
    return parts


def matching_paren(s, i):
    depth = 0
    for j in range(i, len(s)):
        if s[j] == "(":
            depth += 1
        elif s[j] == ")":
            depth -= 1
            if depth == 0:
                return j
    return -1


def parse_create_tables(sql):
    """[(name, [column text], {option: value})] for every CREATE TABLE."""
    tables = []
    for m in re.finditer(r"CREATE\s+(?:TEMPORARY\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?`?([\w.]+)`?\s*\(", sql, re.I):
        start = m.end() - 1
        end = matching_paren(sql, start)
        cols = split_top(sql[start + 1:end])
        opts = {}
        w = re.match(r"\s*WITH\s*\(", sql[end + 1:], re.I)
        if w:
            ostart = end + 1 + w.end() - 1
            oend = matching_paren(sql, ostart)
            for kv in split_top(sql[ostart + 1:oend]):
                km = re.fullmatch(r"\s*'([^']*)'\s*=\s*'([^']*)'\s*", kv)
                if km:
                    opts[km.group(1)] = km.group(2)
        tables.append((m.group(1), cols, opts))
    return tables


def parse_column(text):
    """(name, type text) of a physical column; None for constraints, watermarks, computed and
    metadata columns."""
    if re.match(r"(WATERMARK|PRIMARY\s+KEY|CONSTRAINT)\b", text, re.I):
        return None
    m = re.match(r"`([^`]+)`\s+(.*)$|([A-Za-z_]\w*)\s+(.*)$", text, re.S)
    if not m:
        return ("?", text)
    name = m.group(1) or m.group(3)
    rest = (m.group(2) if m.group(1) else m.group(4)).strip()
    if re.match(r"AS\b", rest, re.I) or re.search(r"\bMETADATA\b", rest, re.I):
        return None
    rest = re.sub(r"\s+NOT\s+NULL\s*$", "", rest, flags=re.I)
    return (name, " ".join(rest.split()))


def flink_compatible(ftype, sub, path, options):
    """None when a Flink column of SQL type ftype can hold values of subschema sub, else the
    reason. Recurses into ROW fields (each checked against the nested member)."""
    t = (types_of(sub) or set()) - {"null"}
    base = re.match(r"(\w+)", ftype).group(1).upper()
    if base in ("STRING", "VARCHAR", "CHAR"):
        if t <= {"string"} and t:
            return None
        if t == {"number", "string"}:
            return None   # the JSON format hands a number to STRING as its text
        return f"{ftype} for '{path}' of type {'/'.join(sorted(t))}"
    if base == "BOOLEAN":
        return None if t == {"boolean"} else f"BOOLEAN for '{path}' of type {'/'.join(sorted(t))}"
    if base in ("TINYINT", "SMALLINT", "INT", "INTEGER", "BIGINT"):
        if t != {"integer"}:
            return f"{base} for '{path}' of type {'/'.join(sorted(t))} (may be fractional or not a number)"
        limit = {"TINYINT": 2**7 - 1, "SMALLINT": 2**15 - 1, "INT": 2**31 - 1, "INTEGER": 2**31 - 1,
                 "BIGINT": 2**63 - 1}[base]
        mx = max_integer(sub)
        if mx is None or mx > limit:
            return f"{base} for '{path}' whose maximum is {mx if mx is not None else 'unbounded'} (> {limit})"
        return None
    if base in ("DOUBLE", "FLOAT", "DECIMAL"):
        return None if t and t <= {"number", "integer"} else f"{base} for '{path}' of type {'/'.join(sorted(t))}"
    if base in ("TIMESTAMP_LTZ", "TIMESTAMP"):
        if t != {"string"} or sub.get("format") != "date-time":
            return f"{ftype} for '{path}', which is not a date-time string"
        if options.get("json.timestamp-format.standard") != "ISO-8601":
            return f"{ftype} for '{path}' needs 'json.timestamp-format.standard' = 'ISO-8601' (the value has a 'T')"
        pattern = sub.get("pattern", "")
        if base == "TIMESTAMP" and pattern.endswith("Z$"):
            return f"TIMESTAMP for '{path}': Flink's ISO-8601 TIMESTAMP refuses the trailing Z; use TIMESTAMP_LTZ"
        if base == "TIMESTAMP_LTZ" and not pattern.endswith("Z$"):
            return f"TIMESTAMP_LTZ for '{path}': Flink's ISO-8601 TIMESTAMP_LTZ needs a trailing Z, the schema does not promise one"
        return None
    if base == "MAP":
        if ftype.replace(" ", "").upper() != "MAP<STRING,STRING>":
            return f"{ftype} for '{path}': only MAP<STRING, STRING> is checked"
        return None if is_string_map(sub) else f"MAP<STRING, STRING> for '{path}', which is not an object of strings"
    if base == "ROW":
        if "object" not in t:
            return f"ROW for '{path}' of type {'/'.join(sorted(t))}"
        inner = ftype[ftype.index("<") + 1:ftype.rindex(">")]
        props = sub.get("properties", {})
        problems = []
        for field in split_top(inner):
            fm = re.match(r"`([^`]+)`\s+(.*)$|([A-Za-z_]\w*)\s+(.*)$", field, re.S)
            fname = fm.group(1) or fm.group(3)
            ftype2 = " ".join((fm.group(2) if fm.group(1) else fm.group(4)).split())
            if fname not in props:
                problems.append(f"ROW field '{path}.{fname}' is not a member of the schema")
                continue
            why = flink_compatible(ftype2, props[fname], f"{path}.{fname}", options)
            if why:
                problems.append(why)
            else:
                ok(f"events.sql: ROW field {path}.{fname} {ftype2} <- {'/'.join(sorted(types_of(props[fname]) or []))}")
        if sub.get("additionalProperties") is not False:
            problems.append(f"ROW for '{path}', whose keys are not fixed (additionalProperties is not false)")
        for key in props:
            if not any(re.match(rf"`?{re.escape(key)}`?\s", f) for f in split_top(inner)):
                problems.append(f"ROW for '{path}' has no field for schema member '{key}'")
        return "; ".join(problems) or None
    return f"{ftype} for '{path}': type not handled by this script"


def check_flink(path, members):
    print(f"Flink: {os.path.relpath(path, DOWNSTREAM)}")
    try:
        with open(path) as f:
            sql = strip_sql_comments(f.read())
    except OSError as e:
        error(f"{path}: cannot read: {e}")
        return
    sources = [t for t in parse_create_tables(sql) if t[2].get("connector") == "kafka"]
    if len(sources) != 1:
        error(f"events.sql: expected one CREATE TABLE with 'connector' = 'kafka', found {len(sources)}")
        return
    tname, cols, opts = sources[0]
    for key, want in (("topic", TOPIC), ("format", "json")):
        if opts.get(key) != want:
            error(f"events.sql: {tname}: '{key}' = {opts.get(key)!r}, expected {want!r}")
    for key in ("scan.startup.mode", "json.ignore-parse-errors", "properties.bootstrap.servers"):
        if key not in opts:
            error(f"events.sql: {tname}: option '{key}' is not set")
    if opts.get("json.fail-on-missing-field", "false") != "false":
        error(f"events.sql: {tname}: 'json.fail-on-missing-field' must be false: optional members are absent, not null")
    ok(f"events.sql: source table {tname}, topic {opts.get('topic')}, format {opts.get('format')}, "
       f"ignore-parse-errors {opts.get('json.ignore-parse-errors')}, startup {opts.get('scan.startup.mode')}")

    seen = set()
    for text in cols:
        col = parse_column(text)
        if col is None:
            continue
        cname, ctype = col
        if cname in seen:
            error(f"events.sql: column '{cname}' twice")
        seen.add(cname)
        if cname not in members:
            error(f"events.sql: column '{cname}' {ctype} is not a member of the event")
            continue
        why = flink_compatible(ctype, members[cname].sub, cname, opts)
        if why:
            error(f"events.sql: column '{cname}': {why}")
        else:
            ok(f"events.sql: column {cname} {ctype} <- {members[cname].describe()}")

    wm = re.search(r"WATERMARK\s+FOR\s+`?(\w+)`?\s+AS", " ".join(cols), re.I)
    if not wm:
        error(f"events.sql: {tname} has no WATERMARK")
    elif wm.group(1) not in seen and not re.search(rf"`?{wm.group(1)}`?\s+AS\b", " ".join(cols)):
        error(f"events.sql: WATERMARK on '{wm.group(1)}', which is no column")
    else:
        ok(f"events.sql: watermark on {wm.group(1)}")

    for member in members:
        if member not in seen and member not in FLINK_LEFT_OUT:
            error(f"events.sql: member '{member}' is no column of {tname} and not in FLINK_LEFT_OUT")
    for member in FLINK_LEFT_OUT:
        if member not in members:
            error(f"check_specs.py: FLINK_LEFT_OUT names '{member}', which the schema does not have")
    ok(f"events.sql: every top-level member is a column or left out on purpose ({len(seen)} columns)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--schema", default=os.path.join(DOWNSTREAM, "event.schema.json"))
    ap.add_argument("--druid-dir", default=os.path.join(DOWNSTREAM, "druid"))
    ap.add_argument("--flink-sql", default=os.path.join(DOWNSTREAM, "flink", "events.sql"))
    args = ap.parse_args()

    with open(args.schema) as f:
        schema = json.load(f)
    print(f"Schema: {os.path.relpath(args.schema, DOWNSTREAM)}")
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
        ok("the schema is a valid draft 2020-12 schema")
    except jsonschema.exceptions.SchemaError as e:
        error(f"the schema itself is invalid: {e.message}")
    members = collect_members(schema)
    ok(f"{len(members)} top-level members: {', '.join(members)}")

    check_druid(os.path.join(args.druid_dir, "supervisor.json"), members, raw=True)
    check_druid(os.path.join(args.druid_dir, "supervisor-rollup.json"), members, raw=False)
    check_flink(args.flink_sql, members)

    print()
    if errors:
        print(f"check_specs: {len(errors)} mismatch(es) between the specs and the schema:")
        for e in errors:
            print("  - " + e)
        return 1
    print(f"check_specs: the Druid and Flink specs agree with the schema ({len(checked)} checks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
