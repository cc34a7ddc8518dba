#!/usr/bin/env python3
"""lite2pg's CI drives a real SQLAlchemy application the way Django's is driven: `schema`
makes the tables with `metadata.create_all()` (what a new SQLAlchemy user does; Alembic's
`upgrade head` makes the same), `fill` writes awkward values through the ORM, `dump`
prints every object canonically, `write` makes the app's next writes and lookups on
PostgreSQL and checks them. The database comes from LITE2PG_SQLALCHEMY_DB: a SQLite path
or a postgres:// URL."""
import base64
import datetime
import decimal
import json
import os
import sys
import uuid

from sqlalchemy import (JSON, Boolean, DateTime, ForeignKey, Interval, LargeBinary, Numeric,
                        String, Uuid, create_engine, select)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

UTC = datetime.timezone.utc
db = os.environ["LITE2PG_SQLALCHEMY_DB"]
url = db.replace("postgres://", "postgresql+psycopg://", 1) if db.startswith("postgres") else f"sqlite:///{db}"
engine = create_engine(url)


class Base(DeclarativeBase):
    pass


class Team(Base):
    __tablename__ = "team"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    members: Mapped[list["Member"]] = relationship(back_populates="team", cascade="all, delete-orphan")


class Member(Base):
    __tablename__ = "member"
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, default=uuid.uuid4)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"))
    team: Mapped[Team] = relationship(back_populates="members")
    joined: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True))
    shift: Mapped[datetime.timedelta | None] = mapped_column(Interval)
    salary: Mapped[decimal.Decimal] = mapped_column(Numeric(10, 2))
    # 18 digits: SQLite keeps a double, whose exact value SQLAlchemy reads to 8 places.
    balance: Mapped[decimal.Decimal | None] = mapped_column(Numeric(20, 8))
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    prefs: Mapped[dict | None] = mapped_column(JSON)
    photo: Mapped[bytes | None] = mapped_column(LargeBinary)


def schema():
    Base.metadata.create_all(engine)


def fill():
    with Session(engine) as s:
        red, blue, gone = Team(name="red"), Team(name="blue"), Team(name="gone")
        s.add_all([red, blue, gone])
        s.flush()
        s.add_all([
            Member(uid=uuid.UUID("6f1c2b1e-0a7d-4c3e-9b8a-7f6e5d4c3b2a"), team=red,
                   joined=datetime.datetime(2024, 3, 5, 12, 34, 56, 123456, tzinfo=UTC),
                   shift=datetime.timedelta(days=1, hours=2, microseconds=7),
                   salary=decimal.Decimal("1234.50"), admin=True,
                   balance=decimal.Decimal("12345678901.12345678"),
                   prefs={"theme": "dark", "n": 1.5, "list": [1, None]}, photo=b"\x00\xffpng"),
            Member(team=blue, joined=datetime.datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),
                   shift=datetime.timedelta(seconds=-90), salary=decimal.Decimal("10.00")),
            Member(team=gone, joined=datetime.datetime.now(UTC), salary=decimal.Decimal("0.05")),
        ])
        s.commit()
        s.delete(s.scalars(select(Team).where(Team.name == "gone")).one())
        s.commit()


def value(v):
    if isinstance(v, decimal.Decimal):
        return "decimal:" + str(v)
    if isinstance(v, datetime.datetime):
        # SQLite gives back naive UTC, PostgreSQL aware: the same instant either way.
        return "datetime:" + (v if v.tzinfo else v.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    if isinstance(v, datetime.timedelta):
        return "duration:" + str(v // datetime.timedelta(microseconds=1))
    if isinstance(v, uuid.UUID):
        return "uuid:" + str(v)
    if isinstance(v, bytes):
        return "bytes:" + base64.b64encode(v).decode()
    return v


def dump():
    out = {}
    with Session(engine) as s:
        for model in (Team, Member):
            rows = []
            for obj in s.scalars(select(model).order_by(model.id)):
                rows.append({c.key: value(getattr(obj, c.key)) for c in model.__table__.columns})
            out[model.__name__] = rows
    json.dump(out, sys.stdout, indent=1, sort_keys=True, ensure_ascii=False)
    print()


def write():
    assert engine.dialect.name == "postgresql", engine.dialect.name
    with Session(engine) as s:
        green = Team(name="green")
        s.add(green)
        s.flush()
        # INTEGER PRIMARY KEY without AUTOINCREMENT: SQLite hands out max + 1, and so must
        # PostgreSQL (the highest team left is 2).
        assert green.id == 3, f"the next team id is {green.id}, not the one after the highest"
        m = Member(team=green, joined=datetime.datetime.now(UTC), shift=datetime.timedelta(minutes=5),
                   salary=decimal.Decimal("7.10"), prefs={"n": 2})
        s.add(m)
        s.flush()
        assert m.id == 3, f"the next member id is {m.id}"
        first = s.scalars(select(Member).where(Member.uid == uuid.UUID("6f1c2b1e-0a7d-4c3e-9b8a-7f6e5d4c3b2a"))).one()
        assert first.salary == decimal.Decimal("1234.50") and str(first.salary) == "1234.50"
        assert first.shift == datetime.timedelta(days=1, hours=2, microseconds=7)
        assert s.scalars(select(Member).where(Member.shift > datetime.timedelta(hours=1))).one().id == first.id
        assert s.scalars(select(Member).where(Member.prefs["theme"].as_string() == "dark")).one().id == first.id
        first.shift = datetime.timedelta(days=2)
        s.delete(s.scalars(select(Team).where(Team.name == "blue")).one())
        s.commit()
        assert s.scalars(select(Member).where(Member.salary == decimal.Decimal("10.00"))).first() is None
    print("the application's writes and lookups on PostgreSQL work")


if __name__ == "__main__":
    {"schema": schema, "fill": fill, "dump": dump, "write": write}[sys.argv[1]]()
