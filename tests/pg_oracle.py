#!/usr/bin/python3
"""Fill in (or check) the expected output of .slt files from a real PostgreSQL.

Usage:  /usr/bin/python3 tests/pg_oracle.py [--check] FILE.slt...

Needs python3-psycopg2 (apt-get install python3-psycopg2; run it with /usr/bin/python3)
and a scratch PostgreSQL 15 on $PGORACLE_DSN (default host=127.0.0.1 port=5497
user=postgres), initialized with the C collation and started with TimeZone=UTC,
DateStyle=ISO, extra_float_digits=1, for example (as root):

  mkdir -p /tmp/pg15 && chown postgres /tmp/pg15
  runuser -u postgres -- /usr/lib/postgresql/15/bin/initdb -D /tmp/pg15/data -E UTF8 --locale=C.UTF-8
  runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D /tmp/pg15/data -l /tmp/pg15/log \
    -o "-p 5497 -c listen_addresses=127.0.0.1 -c unix_socket_directories=/tmp/pg15 \
        -c TimeZone=UTC -c DateStyle=ISO -c extra_float_digits=1" start

Each file runs in a freshly created database `slt_oracle`. The files under
tests/slt/known_failing/ are self-contained and can be filled the same way.

For every record:
  statement ok           PostgreSQL must succeed.
  statement count N      N is replaced by PostgreSQL's row count.
  statement error [re]   PostgreSQL must fail; an empty regex is filled with PostgreSQL's
                         message (escaped, anchored with ^ and $); a given regex must match
                         PostgreSQL's primary message (what tests/slt.rs matches against),
                         or `(SQLSTATE)` PostgreSQL's code.
  query <types> [sort]   types and results are replaced by PostgreSQL's (I for integer
                         types, R for float/numeric, T otherwise; NULL as `NULL`, the
                         empty string as `(empty)`, rows sorted for rowsort).
  query error [re]       as statement error.

Eddy-only syntax is translated for PostgreSQL:
  CREATE MATERIALIZED VIEW ... AS q   gets WITH NO DATA; every materialized view is
      refreshed (in creation order) before each record, so it always shows the current
      result of its query, as in Eddy. When a refresh fails (say, division by zero) a
      record whose SQL names that view, or anything built on it, expects that error,
      which is how Eddy surfaces errors of a view.
  EXPLAIN CREATE MATERIALIZED VIEW v AS q   runs EXPLAIN q.
  SHOW TABLES | VIEWS | MATERIALIZED VIEWS | COLUMNS FROM t   read pg_catalog.
With --check nothing is written; differences are printed and the exit code is 1.
"""

import os
import re
import sys

import psycopg2
import psycopg2.extensions

DSN = os.environ.get("PGORACLE_DSN", "host=127.0.0.1 port=5497 user=postgres")
DB = "slt_oracle"

# Return every value as PostgreSQL's text output.
_ALL_OIDS = None


def raw_strings(conn):
    global _ALL_OIDS
    if _ALL_OIDS is None:
        cur = conn.cursor()
        cur.execute("SELECT oid FROM pg_type")
        _ALL_OIDS = tuple(r[0] for r in cur.fetchall())
        caster = psycopg2.extensions.new_type(_ALL_OIDS, "RAWTEXT", lambda v, c: v)
        psycopg2.extensions.register_type(caster)


INT_OIDS = {20, 21, 23, 26}
REAL_OIDS = {700, 701, 1700}

HEADER = re.compile(r"^(statement|query)\b(.*)$")


class Record:
    def __init__(self, kind, header, sql_lines, results, start):
        self.kind = kind
        self.header = header
        self.sql_lines = sql_lines
        self.results = results  # None when the record has no ---- section
        self.start = start

    @property
    def sql(self):
        return "\n".join(self.sql_lines)


def parse(lines):
    """Yields str (passed through) or Record."""
    i = 0
    out = []
    while i < len(lines):
        line = lines[i]
        m = HEADER.match(line)
        if not m:
            out.append(line)
            i += 1
            continue
        start = i
        kind = m.group(1)
        i += 1
        sql = []
        while i < len(lines) and lines[i].strip() != "" and lines[i].strip() != "----":
            sql.append(lines[i])
            i += 1
        results = None
        if i < len(lines) and lines[i].strip() == "----":
            i += 1
            results = []
            while i < len(lines) and lines[i].strip() != "":
                results.append(lines[i])
                i += 1
        out.append(Record(kind, line, sql, results, start + 1))
    return out


def translate(sql):
    s = sql.strip().rstrip(";")
    m = re.match(r"(?is)^explain\s+create\s+materialized\s+view\s+(if\s+not\s+exists\s+)?\S+\s*(\([^)]*\)\s*)?as\s+(.*)$", s)
    if m:
        return "EXPLAIN " + m.group(3)
    if re.match(r"(?is)^create\s+materialized\s+view\b", s):
        return s + " WITH NO DATA"
    m = re.match(r"(?is)^show\s+(tables|views|materialized\s+views)$", s)
    if m:
        kind = {"tables": "r", "views": "v"}.get(m.group(1).lower(), "m")
        return (
            "SELECT relname AS name FROM pg_class WHERE relnamespace = 'public'::regnamespace "
            f"AND relkind = '{kind}' ORDER BY 1"
        )
    m = re.match(r"(?is)^show\s+columns\s+(from|in)\s+(.+)$", s)
    if m:
        return (
            "SELECT attname AS name, NOT attnotnull AS nullable, format_type(atttypid, atttypmod) AS type "
            f"FROM pg_attribute WHERE attrelid = $rel${m.group(2).strip()}$rel$::regclass AND attnum > 0 "
            "AND NOT attisdropped ORDER BY attnum"
        )
    return s


def fmt_value(v):
    if v is None:
        return "NULL"
    if v == "":
        return "(empty)"
    if "\n" in v:
        raise ValueError(f"value with a newline cannot be written to an slt file: {v!r}")
    return v


def type_letter(oid):
    if oid in INT_OIDS:
        return "I"
    if oid in REAL_OIDS:
        return "R"
    return "T"


class Oracle:
    def __init__(self):
        admin = psycopg2.connect(DSN + " dbname=postgres")
        admin.autocommit = True
        cur = admin.cursor()
        cur.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {DB}")
        admin.close()
        self.conn = psycopg2.connect(DSN + f" dbname={DB}")
        self.conn.autocommit = True
        raw_strings(self.conn)

    def close(self):
        self.conn.close()

    def refresh(self):
        """Refreshes every materialized view; returns {relation: error} for every
        relation that failed or is built on one that failed."""
        if self.conn.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_INERROR:
            return {}  # an aborted transaction block refuses every command until it ends
        cur = self.conn.cursor()
        cur.execute(
            "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), c.relname FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'm'"
            " AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY c.oid"
        )
        qualified = dict((r[1], r[0]) for r in cur.fetchall())
        mvs = list(qualified)
        if not mvs:
            return {}
        cur.execute(
            """SELECT DISTINCT v.relname, d.relname FROM pg_rewrite r
               JOIN pg_depend dep ON dep.classid = 'pg_rewrite'::regclass AND dep.objid = r.oid
                                  AND dep.refclassid = 'pg_class'::regclass
               JOIN pg_class v ON v.oid = r.ev_class JOIN pg_class d ON d.oid = dep.refobjid
               WHERE v.oid <> d.oid AND v.relnamespace = 'public'::regnamespace"""
        )
        deps = {}
        for v, d in cur.fetchall():
            deps.setdefault(v, set()).add(d)
        failed = {}

        def tainted(rel, seen=()):
            if rel in failed:
                return failed[rel]
            for d in deps.get(rel, ()):
                if d not in seen:
                    e = tainted(d, seen + (rel,))
                    if e:
                        return e
            return None

        for mv in mvs:
            e = tainted(mv)
            if e:
                failed[mv] = e
                continue
            try:
                cur.execute(f'REFRESH MATERIALIZED VIEW {qualified[mv]}')
            except psycopg2.Error as err:
                failed[mv] = err
        # plain views over failed materialized views
        for v in deps:
            e = tainted(v)
            if e:
                failed[v] = e
        return failed

    def run(self, sql):
        """Returns ("rows", desc, rows) | ("count", n) | ("error", exc)."""
        failed = self.refresh()
        for rel, err in failed.items():
            if re.search(r"(?i)(?<![\w.])" + re.escape(rel) + r"(?!\w)", sql) and not re.match(
                r"(?is)^\s*(drop|create|show|explain)\b", sql
            ):
                return ("error", err)
        cur = self.conn.cursor()
        try:
            cur.execute(translate(sql))
        except psycopg2.Error as err:
            return ("error", err)
        if cur.description is not None:
            return ("rows", cur.description, cur.fetchall())
        return ("count", cur.rowcount)


def err_text(err):
    """What tests/slt.rs matches `error <regex>` against: the primary message only."""
    return err.diag.message_primary


def escape_regex(msg):
    return re.sub(r"([\\.^$|?*+()\[\]{}])", r"\\\1", msg)


def process(path, check):
    with open(path) as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    items = parse(lines)
    oracle = Oracle()
    problems = []
    out = []
    n = 0
    for item in items:
        if isinstance(item, str):
            out.append(item)
            continue
        n += 1
        rec = item
        where = f"{path}:{rec.start}"
        res = oracle.run(rec.sql)
        words = rec.header.split(None, 2)
        header = rec.header
        results = rec.results
        is_error = len(words) >= 2 and words[1] == "error"
        if is_error:
            regex = words[2].strip() if len(words) > 2 else ""
            if res[0] != "error":
                problems.append(f"{where}: PostgreSQL succeeded but the record expects an error")
            else:
                err = res[1]
                if regex == "":
                    header = f"{words[0]} error ^{escape_regex(err.diag.message_primary)}$"
                else:
                    m = re.match(r"^\(([0-9A-Z]{5})\)$", regex)
                    ok = (err.pgcode == m.group(1)) if m else re.search(regex, err_text(err)) is not None
                    if not ok:
                        problems.append(f"{where}: error regex {regex!r} does not match PostgreSQL's {err_text(err)!r} ({err.pgcode})")
        elif rec.kind == "statement":
            if res[0] == "error":
                problems.append(f"{where}: PostgreSQL failed: {err_text(res[1])} ({res[1].pgcode})")
            elif len(words) >= 3 and words[1] == "count":
                got = res[1] if res[0] == "count" else len(res[2])
                header = f"statement count {got}"
        else:  # query
            if res[0] == "error":
                problems.append(f"{where}: PostgreSQL failed: {err_text(res[1])} ({res[1].pgcode})")
            elif res[0] == "count":
                problems.append(f"{where}: PostgreSQL returned no rows description for a query")
            else:
                _, desc, rows = res
                rest = words[2:] if len(words) > 2 else []
                rest = " ".join(rest)
                sort = rest.split()[0] if rest.split() else ""
                types = "".join(type_letter(d.type_code) for d in desc)
                header = f"query {types}" + (f" {rest}" if rest else "")
                srows = [[fmt_value(v) for v in r] for r in rows]
                if sort == "rowsort":
                    srows.sort()
                elif sort == "valuesort":
                    vals = sorted(v for r in srows for v in r)
                    srows = [[v] for v in vals]
                results = [" ".join(r) for r in srows]
                # `-- natural order` in the query: its order without ORDER BY is what is tested.
                if sort == "" and len(rows) > 1 and not re.search(r"(?i)order\s+by|-- natural order", rec.sql) and not re.match(r"(?i)^\s*show\b", rec.sql):
                    problems.append(f"{where}: query returns several rows without ORDER BY; use rowsort")
        if check:
            norm = lambda ls: [" ".join(x.split()) for x in (ls or [])]
            strip_types = lambda h: h.split()[:1] + h.split()[2:] if h.startswith("query") and not is_error else h.split()
            if strip_types(header) != strip_types(rec.header) or norm(results) != norm(rec.results):
                problems.append(
                    f"{where}: differs from PostgreSQL:\n  file: {rec.header} {rec.results}\n  pg:   {header} {results}"
                )
        out.append(header)
        out.extend(rec.sql_lines)
        if rec.kind == "query" and not is_error:
            out.append("----")
            out.extend(results or [])
        elif rec.results is not None:
            out.append("----")
            out.extend(rec.results)
    oracle.close()
    if not check:
        with open(path, "w") as f:
            f.write("\n".join(out) + "\n")
    return n, problems


def main():
    args = sys.argv[1:]
    check = "--check" in args
    files = [a for a in args if a != "--check"]
    total = 0
    bad = []
    for path in files:
        n, problems = process(path, check)
        total += n
        print(f"{path}: {n} records, {len(problems)} problem(s)")
        for p in problems:
            print("  " + p)
        bad += problems
    print(f"{total} records in {len(files)} file(s)")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
