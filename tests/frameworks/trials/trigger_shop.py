"""An app that leans on what its SQLite database does (issue 16's real client): an order
trigger writes an audit row and takes stock, a guard refuses an order the stock cannot
cover with RAISE(ABORT, ...), a cancel trigger (UPDATE OF status, with WHEN) gives the
stock back, an AFTER UPDATE trigger bumps the product's version (its own table: SQLite's
recursive_triggers is off, so once), and an external-content FTS5 index kept in step by
triggers answers the search box.

Verbs, on whatever APP_DB names (a SQLite file, or a postgres:// URL):
`schema` (SQLite only: the app's DDL and its first rows), `order TAG` (the app's writes:
orders, a cancel, a refused order), `dump` (what the app reads, as JSON: equal on both sides
when each trigger fired exactly once per write)."""
import json
import os
import sqlite3
import sys

DB = os.environ["APP_DB"]
PG = "://" in DB

SCHEMA = """
CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, stock INTEGER NOT NULL,
                       version INTEGER NOT NULL DEFAULT 0);
CREATE TABLE orders (id INTEGER PRIMARY KEY, product_id INTEGER NOT NULL REFERENCES products(id),
                     qty INTEGER NOT NULL, status TEXT NOT NULL DEFAULT 'placed');
CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, order_id INTEGER, action TEXT NOT NULL);
CREATE VIRTUAL TABLE products_fts USING fts5(name, content='products', content_rowid='id');
CREATE TRIGGER products_ai AFTER INSERT ON products BEGIN
    INSERT INTO products_fts(rowid, name) VALUES (new.id, new.name);
END;
CREATE TRIGGER products_ad AFTER DELETE ON products BEGIN
    INSERT INTO products_fts(products_fts, rowid, name) VALUES ('delete', old.id, old.name);
END;
CREATE TRIGGER products_au AFTER UPDATE OF name ON products BEGIN
    INSERT INTO products_fts(products_fts, rowid, name) VALUES ('delete', old.id, old.name);
    INSERT INTO products_fts(rowid, name) VALUES (new.id, new.name);
END;
CREATE TRIGGER order_guard BEFORE INSERT ON orders
WHEN (SELECT stock FROM products WHERE id = NEW.product_id) < NEW.qty BEGIN
    SELECT RAISE(ABORT, 'not enough stock');
END;
CREATE TRIGGER order_placed AFTER INSERT ON orders BEGIN
    UPDATE products SET stock = stock - NEW.qty WHERE id = NEW.product_id;
    INSERT INTO audit (order_id, action) VALUES (NEW.id, 'placed ' || NEW.qty);
END;
CREATE TRIGGER order_cancelled AFTER UPDATE OF status ON orders
WHEN NEW.status = 'cancelled' AND OLD.status <> 'cancelled' BEGIN
    UPDATE products SET stock = stock + OLD.qty WHERE id = OLD.product_id;
    INSERT INTO audit (order_id, action) VALUES (OLD.id, 'cancelled');
END;
CREATE TRIGGER product_version AFTER UPDATE ON products BEGIN
    UPDATE products SET version = version + 1 WHERE id = NEW.id;
END;
"""


def connect():
    if PG:
        import psycopg
        return psycopg.connect(DB)
    return sqlite3.connect(DB, timeout=30)


def run(conn, sql, args=()):
    if PG:
        sql = sql.replace("?", "%s")
    cur = conn.cursor()
    cur.execute(sql, args)
    return cur


def integrity_error():
    if PG:
        import psycopg
        return psycopg.IntegrityError
    return sqlite3.IntegrityError


def schema():
    assert not PG, "the app's schema is made in SQLite; lite2pg brings it to PostgreSQL"
    conn = connect()
    conn.executescript(SCHEMA)
    for name, stock in [("red chair", 10), ("blue table", 4), ("red lamp", 2)]:
        run(conn, "INSERT INTO products (name, stock) VALUES (?, ?)", (name, stock))
    conn.commit()


def order(tag):
    conn = connect()
    # Two orders, one cancelled: the triggers take stock, give it back, audit both, and
    # bump the products' versions.
    ids = []
    for product, qty in [(1, 2), (2, 1)]:
        run(conn, "INSERT INTO orders (product_id, qty) VALUES (?, ?)", (product, qty))
        ids.append(run(conn, "SELECT max(id) FROM orders").fetchone()[0])
    conn.commit()
    run(conn, "UPDATE orders SET status = 'cancelled' WHERE id = ?", (ids[1],))
    conn.commit()
    # A renamed product must be found under its new name.
    run(conn, "UPDATE products SET name = ? WHERE id = 3", (f"red lamp {tag}",))
    conn.commit()
    # An order the stock cannot cover: refused by the guard, the same way on both sides.
    try:
        run(conn, "INSERT INTO orders (product_id, qty) VALUES (3, 1000)")
        conn.commit()
        refused = "accepted"
    except integrity_error() as e:
        conn.rollback()
        message = e.diag.message_primary if PG else str(e)
        refused = f"IntegrityError: {message}"
    print(json.dumps({"refused": refused}))
    if refused != "IntegrityError: not enough stock":
        sys.exit(f"the guard did not refuse as the app expects: {refused}")


def dump():
    conn = connect()
    search = ("SELECT rowid FROM products_fts WHERE products_fts @@ "
              "websearch_to_tsquery('simple', ?) ORDER BY rowid" if PG else
              "SELECT rowid FROM products_fts WHERE products_fts MATCH ? ORDER BY rowid")
    out = {
        "products": run(conn, "SELECT id, name, stock, version FROM products ORDER BY id").fetchall(),
        "orders": run(conn, "SELECT id, product_id, qty, status FROM orders ORDER BY id").fetchall(),
        "audit": run(conn, "SELECT id, order_id, action FROM audit ORDER BY id").fetchall(),
        "search red": [r[0] for r in run(conn, search, ("red",)).fetchall()],
        "search lamp": [r[0] for r in run(conn, search, ("lamp",)).fetchall()],
    }
    print(json.dumps(out, default=list, indent=1))


if __name__ == "__main__":
    verb = sys.argv[1]
    if verb == "schema":
        schema()
    elif verb == "order":
        order(sys.argv[2])
    elif verb == "dump":
        dump()
    else:
        sys.exit(f"unknown verb {verb}")
