#!/usr/bin/python3
"""Runs .slt files against a fresh eddy and prints EVERY mismatching record, with expected
and actual output (tests/slt.rs stops at the first failure of a file). Handy for seeing
which tests/slt/known_failing records pass after a fix.

Usage: /usr/bin/python3 tests/slt_eddy_diff.py [--workers N] FILE...
Needs python3-psycopg2 and the debug eddy binary ($CARGO_TARGET_DIR or /work/target).
Comparison follows sqllogictest-rs: each cell trimmed and whitespace-collapsed, cells
joined by one space, rowsort sorts the rows, error regexes are searched in the primary
message."""
import os, re, shutil, socket, subprocess, sys, time, tempfile
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import psycopg2, psycopg2.extensions
from pg_oracle import parse, fmt_value

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def norm(x): return " ".join(x.split())

def run_file(path, workers):
    port = free_port()
    d = tempfile.mkdtemp(prefix="eddy-diff-")
    proc = subprocess.Popen([os.path.join(os.environ.get("CARGO_TARGET_DIR", "/work/target"), "debug/eddy"), "--listen", f"127.0.0.1:{port}", "--workers", str(workers), "--data-dir", d], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port)).close(); break
            except OSError: time.sleep(0.05)
        conn = psycopg2.connect(f"host=127.0.0.1 port={port} user=eddy dbname=eddy")
        conn.autocommit = True
        cast = psycopg2.extensions.new_type(tuple(range(0, 10000)), "RAW", lambda v, c: v)
        psycopg2.extensions.register_type(cast, conn)
        lines = open(path).read().split("\n")
        items = parse(lines)
        fails = []
        n = 0
        for rec in items:
            if isinstance(rec, str): continue
            n += 1
            words = rec.header.split(None, 2)
            is_err = len(words) >= 2 and words[1] == "error"
            cur = conn.cursor()
            err = None; rows = None; count = None
            try:
                cur.execute(rec.sql)
                if cur.description is not None:
                    rows = [[fmt_value(v) for v in r] for r in cur.fetchall()]
                else:
                    count = cur.rowcount
            except psycopg2.Error as e:
                err = e
            except Exception as e:
                err = e
            loc = f"{os.path.basename(path)}:{rec.start}"
            sql1 = rec.sql.replace("\n", " ")
            if is_err:
                regex = words[2] if len(words) > 2 else ""
                if err is None:
                    fails.append((loc, sql1, f"expected error /{regex}/", "succeeded" + (f": {rows}" if rows is not None else "")))
                else:
                    msg = getattr(getattr(err, "diag", None), "message_primary", None) or str(err)
                    full = msg

                    if regex and not re.search(regex, full):
                        fails.append((loc, sql1, f"error /{regex}/", f"error: {full!r} ({getattr(err, 'pgcode', None)})"))
            elif err is not None:
                msg = getattr(getattr(err, "diag", None), "message_primary", None) or str(err)
                fails.append((loc, sql1, "success" if rec.kind == "statement" else "\n      ".join(rec.results or []) or "(no rows)", f"error: {msg} ({getattr(err, 'pgcode', None)})"))
            elif rec.kind == "statement":
                if len(words) >= 3 and words[1] == "count":
                    got = count if rows is None else len(rows)
                    if str(got) != words[2].strip():
                        fails.append((loc, sql1, f"count {words[2]}", f"count {got}"))
            else:
                sort = (words[2].split() + [""])[0] if len(words) > 2 else ""
                if rows is None:
                    rows = []
                if sort == "rowsort": rows.sort()
                got = [" ".join(norm(c) for c in r) for r in rows]
                exp = [norm(x) for x in (rec.results or [])]
                if got != exp:
                    fails.append((loc, sql1, "\n      ".join(exp) or "(no rows)", "\n      ".join(got) or "(no rows)"))
        conn.close()
        return n, fails
    finally:
        proc.kill(); proc.wait()
        shutil.rmtree(d, ignore_errors=True)

workers = 1
args = sys.argv[1:]
if args and args[0] == "--workers":
    workers = int(args[1]); args = args[2:]
tot = 0; totf = 0
for f in args:
    n, fails = run_file(f, workers)
    tot += n; totf += len(fails)
    print(f"== {f}: {n} records, {len(fails)} failing (workers={workers})")
    for loc, sql, exp, got in fails:
        print(f"-- {loc}: {sql}\n   expected: {exp}\n   actual:   {got}")
print(f"TOTAL {tot} records, {totf} failing")
