#!/usr/bin/env python3
"""The application of the sync benchmark: writes to the benchmark schema (users, orders,
events) with Python's own sqlite3 module, as an unmodified application in another language
and process would.

Usage:
  bench_writer.py DB mixed N        N writes as fast as it can; prints seconds
  bench_writer.py DB rate R SECONDS R writes a second for SECONDS; prints writes, rate
  bench_writer.py DB burst ROWS     ROWS changed rows in transactions of 500 rows

A write is one statement in its own transaction, or one multi-row transaction: inserts,
updates, deletes, INSERT OR REPLACE on the unique email (which replaces another user), a
key change, an order with its events.
"""
import random
import sqlite3
import sys
import time

path, mode = sys.argv[1], sys.argv[2]
db = sqlite3.connect(path, timeout=30, isolation_level=None)
db.execute("PRAGMA foreign_keys = OFF")  # SQLite's default; the app does not enforce FKs
r = random.Random(7)
# Existing rows are picked from the dense id range the generator made; new ids go far above
# everything there, each run in a range of its own.
max_user = db.execute("SELECT count(*) FROM users").fetchone()[0] or 1
max_event = db.execute("SELECT count(*) FROM events").fetchone()[0] or 1
top_user = db.execute("SELECT max(id) FROM users").fetchone()[0] or 1
top_event = db.execute("SELECT max(id) FROM events").fetchone()[0] or 1
next_user = top_user + 1_000_000
next_event = top_event + 1_000_000


def write():
    """One application write; returns rows it changed."""
    global next_user, next_event
    k = r.randrange(10)
    uid = r.randint(1, max_user)
    if k == 0:
        next_user += 1
        db.execute("INSERT INTO users (id, email, name, is_active, balance, score) "
                   "VALUES (?, ?, 'new', 1, 0, 0.5)", (next_user, f"n{next_user}@example.com"))
        return 1
    if k == 1:
        db.execute("UPDATE users SET balance = round(balance + 1.25, 2), score = score / 3 WHERE id = ?", (uid,))
        return 1
    if k == 2:
        # INSERT OR REPLACE on the unique email: the old row goes without a DELETE trigger.
        next_user += 1
        db.execute("INSERT OR REPLACE INTO users (id, email, name, is_active, balance, score) "
                   "VALUES (?, ?, 'replaced', 0, 1, 1.5)", (next_user, f"user{uid}@example.com"))
        return 2
    if k == 3:
        db.execute("UPDATE orders SET status = ? WHERE id = ?",
                   (r.choice(["new", "paid", "shipped", "cancelled"]), r.randint(1, 3 * max_user)))
        return 1
    if k == 4:
        db.execute("DELETE FROM events WHERE id = ?", (r.randint(1, max_event),))
        return 1
    if k == 5:
        next_event += 1
        db.execute("INSERT INTO events VALUES (?, ?, ?, 'click', 'bench')",
                   (next_event, uid, 1_700_000_000 + next_event))
        return 1
    if k == 6:
        db.execute("BEGIN")
        cur = db.execute("INSERT INTO orders (user_id, total, status, placed_at, meta) "
                         "VALUES (?, 9.5, 'new', '2025-01-01T00:00:00Z', '{\"items\": 1}')", (uid,))
        for _ in range(3):
            next_event += 1
            db.execute("INSERT INTO events VALUES (?, ?, ?, 'buy', ?)",
                       (next_event, uid, 1_700_000_000 + next_event, str(cur.lastrowid)))
        db.execute("COMMIT")
        return 4
    if k == 7:
        # A key change.
        next_user += 1
        db.execute("UPDATE OR IGNORE users SET id = ? WHERE id = ?", (next_user, uid))
        return 1
    if k == 8:
        db.execute("UPDATE events SET kind = 'view' WHERE id = ?", (r.randint(1, max_event),))
        return 1
    db.execute("DELETE FROM orders WHERE id = ?", (r.randint(1, 3 * max_user),))
    return 1


if mode == "mixed":
    n = int(sys.argv[3])
    t = time.perf_counter()
    for _ in range(n):
        write()
    print(f"{time.perf_counter() - t:.4f}")
elif mode == "rate":
    rate, seconds = float(sys.argv[3]), float(sys.argv[4])
    start = time.perf_counter()
    done = 0
    while True:
        now = time.perf_counter()
        if now - start >= seconds:
            break
        due = int((now - start) * rate)
        while done < due:
            write()
            done += 1
        time.sleep(0.0005)
    took = time.perf_counter() - start
    print(f"{done} {done / took:.1f}")
elif mode == "burst":
    rows = int(sys.argv[3])
    done = 0
    while done < rows:
        lo = r.randint(1, max(1, max_event - 500))
        db.execute("BEGIN")
        db.execute("UPDATE events SET payload = payload || '+' WHERE id BETWEEN ? AND ?", (lo, lo + 249))
        db.execute("UPDATE users SET balance = round(balance + 1, 2) WHERE id BETWEEN ? AND ?",
                   (lo % max_user, lo % max_user + 149))
        for _ in range(100):
            next_event += 1
            db.execute("INSERT INTO events VALUES (?, 1, ?, 'burst', 'x')",
                       (next_event, 1_700_000_000 + next_event))
        db.execute("COMMIT")
        done += 500
    print(done)
else:
    sys.exit(f"unknown mode {mode}")
