"""The DuckDB column of scripts/bench: what a user who only wants rows moved runs.

ATTACH the SQLite file, ATTACH PostgreSQL, then one `CREATE TABLE ... AS SELECT * FROM` per
table, which DuckDB's postgres extension writes through binary COPY. The key, index and
foreign-key builds run after, from the same statements lite2pg's plan uses (scripts/bench
times both together). DuckDB keeps no NOT NULL, CHECK, default, key or index of its own.

Usage: bench_duckdb.py APP.db 'host=... port=... user=... dbname=...' TABLE...
The extensions are loaded from the files the pinned pip packages install
(duckdb-ext-sqlite, duckdb-ext-postgres), so nothing is downloaded while timing.
"""

import pathlib
import sys

import duckdb


def extension(name: str) -> str:
    """The file of a DuckDB extension installed by its duckdb-ext-* package."""
    for root in map(pathlib.Path, sys.path):
        found = sorted((root / "duckdb_ext" / "extensions").glob(f"v*/*/{name}.duckdb_extension"))
        if found:
            return str(found[-1])
    sys.exit(f"no {name} extension file: pip install duckdb-ext-sqlite duckdb-ext-postgres")


def main() -> None:
    source, target, *tables = sys.argv[1:]
    con = duckdb.connect()
    con.execute(f"LOAD '{extension('sqlite_scanner')}'")
    con.execute(f"LOAD '{extension('postgres_scanner')}'")
    con.execute(f"ATTACH '{source}' AS lite (TYPE sqlite, READ_ONLY)")
    con.execute(f"ATTACH '{target}' AS pg (TYPE postgres)")
    for t in tables:
        con.execute(f'CREATE TABLE pg.public."{t}" AS SELECT * FROM lite."{t}"')
    con.close()


if __name__ == "__main__":
    main()
