"""SQLAlchemy (1.4, Debian's) against a running eddy: the reflection an ORM, a migration
tool or a BI tool does before it reads anything, then a round trip through a reflected
table.

Usage: python3 sqlalchemy_client.py PORT

Run by tests/clients.rs. Exits non-zero (with a traceback) on the first check that fails.
Reflection reads pg_catalog: pg_class, pg_attribute with format_type and correlated
subqueries, pg_index (int2vector keys, unnest and generate_subscripts in a select list),
pg_constraint, pg_sequence and pg_enum, and casts through regclass.
"""

import decimal
import sys

import sqlalchemy as sa

PORT = sys.argv[1]


def check(actual, expected, what):
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


engine = sa.create_engine(f"postgresql+psycopg2://eddy@127.0.0.1:{PORT}/eddy", future=True)
with engine.begin() as conn:
    conn.execute(sa.text(
        "CREATE TABLE orders (id bigint NOT NULL PRIMARY KEY, customer varchar(20), "
        "amount numeric(10,2), tags text[], placed timestamptz, UNIQUE (customer, placed))"))
    conn.execute(sa.text(
        "CREATE MATERIALIZED VIEW spend AS SELECT customer, sum(amount) AS total FROM orders GROUP BY customer"))
    conn.execute(sa.text("CREATE INDEX orders_placed ON orders (placed)"))

inspector = sa.inspect(engine)
check(inspector.get_table_names(), ["orders"], "tables")
check(inspector.get_view_names(), ["spend"], "views (materialized ones included)")
columns = [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns("orders")]
check(columns, [
    ("id", "BIGINT", False),
    ("customer", "VARCHAR(20)", True),
    ("amount", "NUMERIC(10, 2)", True),
    ("tags", "ARRAY", True),
    ("placed", "TIMESTAMP", True),
], "columns")
check(inspector.get_pk_constraint("orders"), {"constrained_columns": ["id"], "name": "orders_pkey"}, "primary key")
unique = [(u["name"], u["column_names"]) for u in inspector.get_unique_constraints("orders")]
check(unique, [("orders_customer_placed_key", ["customer", "placed"])], "unique constraints")
check(inspector.get_foreign_keys("orders"), [], "foreign keys")

orders = sa.Table("orders", sa.MetaData(), autoload_with=engine)
with engine.begin() as conn:
    conn.execute(orders.insert(), [
        {"id": 1, "customer": "a", "amount": decimal.Decimal("9.99"), "tags": ["new", "gift"]},
        {"id": 2, "customer": "a", "amount": decimal.Decimal("1.01"), "tags": []},
    ])
with engine.connect() as conn:
    rows = conn.execute(sa.select(orders.c.id, orders.c.tags).order_by(orders.c.id)).all()
    check([tuple(r) for r in rows], [(1, ["new", "gift"]), (2, [])], "rows with arrays")
    total = conn.execute(sa.text("SELECT total FROM spend WHERE customer = 'a'")).scalar_one()
    check(total, decimal.Decimal("11.00"), "the view")
print("all checks passed")
