"""Python's PostgreSQL drivers against a running eddy: psycopg 3 and psycopg2.

Usage: python3 psycopg_client.py "host=127.0.0.1 port=PORT user=eddy dbname=eddy"

Run by tests/clients.rs. Exits non-zero (with a traceback) on the first check that fails.
psycopg 3 sends parameters with the extended protocol (text and binary), pipelines
executemany, and opens a transaction implicitly when autocommit is off; psycopg2
interpolates parameters on the client and uses the simple protocol.
"""

import datetime
import decimal
import sys
import uuid

import psycopg
import psycopg2
import psycopg2.extras

CONNINFO = sys.argv[1]


def check(actual, expected, what):
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


def psycopg3():
    with psycopg.connect(CONNINFO, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE py3 (id bigint, name text, amount numeric(10,2), at timestamptz,"
            " d date, iv interval, j jsonb, u uuid, raw bytea, ok boolean, f float8)"
        )
        conn.execute(
            "CREATE MATERIALIZED VIEW py3_totals AS"
            " SELECT name, count(*) AS n, sum(amount) AS total FROM py3 GROUP BY name"
        )
        at = datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=datetime.timezone.utc)
        row = (1, "a", decimal.Decimal("9.99"), at, datetime.date(2024, 1, 31),
               datetime.timedelta(days=1, seconds=3), psycopg.types.json.Jsonb({"k": [1, 2]}),
               uuid.UUID("12345678-1234-5678-1234-567812345678"), b"\x00\xff", True, 0.1)
        insert = "INSERT INTO py3 VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        for binary in (False, True):
            with conn.cursor(binary=binary) as cur:
                cur.execute(insert, row)
                cur.execute("SELECT id, name, amount, at, d, iv, j, u, raw, ok, f FROM py3 WHERE id = %s", (1,))
                got = cur.fetchall()[-1]
                check(got[:6], row[:6], f"round trip (binary={binary})")
                check(got[6], {"k": [1, 2]}, "jsonb")
                check(got[7:], row[7:], "uuid, bytea, boolean, float8")
            conn.execute("DELETE FROM py3")

        # executemany runs in a pipeline: many Bind/Execute before one Sync.
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO py3 (id, name, amount) VALUES (%s, %s, %s)",
                [(i, "ab"[i % 2], decimal.Decimal(i) / 4) for i in range(100)],
            )
            cur.execute("SELECT name, n, total FROM py3_totals ORDER BY name")
            check(cur.fetchall(), [("a", 50, decimal.Decimal("612.50")), ("b", 50, decimal.Decimal("625.00"))],
                  "view after executemany")

        # COPY FROM STDIN, row by row.
        with conn.cursor() as cur:
            with cur.copy("COPY py3 (id, name, amount) FROM STDIN") as copy:
                for i in range(1000, 1010):
                    copy.write_row((i, "c", decimal.Decimal("0.50")))
            check(conn.execute("SELECT n, total FROM py3_totals WHERE name = 'c'").fetchone(),
                  (10, decimal.Decimal("5.00")), "view after COPY")

        # Errors map to psycopg's exception classes by SQLSTATE, and the session goes on.
        for sql, exc in [("SELECT * FROM nope", psycopg.errors.UndefinedTable),
                         ("SELECT 1/0", psycopg.errors.DivisionByZero),
                         ("SELEC 1", psycopg.errors.SyntaxError)]:
            try:
                conn.execute(sql)
                raise AssertionError(f"{sql} did not fail")
            except exc:
                pass
        check(conn.execute("SELECT 1 + %s", (1,)).fetchone(), (2,), "session usable after errors")

    # Autocommit off: psycopg opens a transaction itself; rollback discards the writes.
    with psycopg.connect(CONNINFO) as conn:
        conn.execute("INSERT INTO py3 (id, name) VALUES (5000, 'rolled back')")
        conn.rollback()
        conn.execute("INSERT INTO py3 (id, name) VALUES (5001, 'committed')")
        conn.commit()
        names = [r[0] for r in conn.execute("SELECT name FROM py3 WHERE id >= 5000 ORDER BY id").fetchall()]
        check(names, ["committed"], "transaction outcome")

    # Nested transaction blocks are savepoints: an error inside one rolls back only its
    # writes, and the outer block goes on (the server reports it as in a transaction
    # again, not failed); an error outside any savepoint fails the whole block.
    with psycopg.connect(CONNINFO) as conn:
        with conn.transaction():
            conn.execute("INSERT INTO py3 (id, name) VALUES (6000, 'outer')")
            try:
                with conn.transaction():
                    conn.execute("INSERT INTO py3 (id, name) VALUES (6001, 'inner')")
                    conn.execute("SELECT 1/0")
            except psycopg.errors.DivisionByZero:
                pass
            check(conn.info.transaction_status, psycopg.pq.TransactionStatus.INTRANS, "status after ROLLBACK TO")
            conn.execute("INSERT INTO py3 (id, name) VALUES (6002, 'after')")
        names = [r[0] for r in conn.execute("SELECT name FROM py3 WHERE id >= 6000 ORDER BY id").fetchall()]
        check(names, ["outer", "after"], "savepoint outcome")
        conn.commit()
        conn.execute("INSERT INTO py3 (id, name) VALUES (6003, 'lost')")
        try:
            conn.execute("SELECT 1/0")
        except psycopg.errors.DivisionByZero:
            pass
        check(conn.info.transaction_status, psycopg.pq.TransactionStatus.INERROR, "status after an error")
        try:
            conn.execute("SELECT 1")
            raise AssertionError("a failed transaction accepted a statement")
        except psycopg.errors.InFailedSqlTransaction:
            pass
        conn.rollback()
        check(conn.execute("SELECT count(*) FROM py3 WHERE id = 6003").fetchone(), (0,), "failed block discarded")


def psycopg2_client():
    conn = psycopg2.connect(CONNINFO)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("CREATE TABLE py2 (id int, v numeric, s text, t timestamp)")
    psycopg2.extras.execute_values(
        cur, "INSERT INTO py2 VALUES %s",
        [(i, decimal.Decimal("1.5") * i, f"it's {i}", datetime.datetime(2020, 1, 1, 0, 0, i)) for i in range(5)])
    cur.execute("SELECT count(*), sum(v), max(s), min(t) FROM py2 WHERE id > %(lo)s", {"lo": 0})
    check(cur.fetchone(), (4, decimal.Decimal("15.0"), "it's 4", datetime.datetime(2020, 1, 1, 0, 0, 1)),
          "psycopg2 aggregate")
    try:
        cur.execute("SELECT nope FROM py2")
        raise AssertionError("unknown column did not fail")
    except psycopg2.errors.UndefinedColumn:
        pass
    conn.autocommit = False
    cur.execute("INSERT INTO py2 (id) VALUES (99)")
    conn.commit()
    cur.execute("SELECT count(*) FROM py2")
    check(cur.fetchone(), (6,), "psycopg2 commit")
    conn.close()


psycopg3()
psycopg2_client()
print("psycopg and psycopg2: all checks passed")
