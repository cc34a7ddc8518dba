"""A SQLAlchemy app lite2pg's tests did not grow up with (tickets: a UUID key, a native enum,
a self-reference, a key-less association table, naive and aware date-times, intervals, JSON,
binaries, Numeric(12,3)), made with create_all() as a new user does: `schema`, `fill`,
`dump` (every object as the app reads it) and `write`, on whatever APP_DB names."""
import os, sys, json, datetime, decimal, uuid, enum
from sqlalchemy import (create_engine, String, Text, Integer, BigInteger, SmallInteger, Float, Numeric, Boolean,
    Date, Time, DateTime, Interval, LargeBinary, JSON, Uuid, Enum, ForeignKey, Table, Column, select, Unicode)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, Session
UTC = datetime.timezone.utc
class Base(DeclarativeBase): pass
class Status(enum.Enum):
    open = "open"; closed = "closed"
tagging = Table("tagging", Base.metadata, Column("ticket_id", ForeignKey("ticket.id")), Column("label_id", ForeignKey("label.id")))
class Project(Base):
    __tablename__ = "project"
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(Unicode(50), unique=True)
    budget: Mapped[decimal.Decimal | None] = mapped_column(Numeric(12, 3))
    rate: Mapped[float | None] = mapped_column(Float)
    started: Mapped[datetime.date | None] = mapped_column(Date)
    tickets: Mapped[list["Ticket"]] = relationship(back_populates="project")
class Label(Base):
    __tablename__ = "label"
    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    text: Mapped[str] = mapped_column(String(20))
class Ticket(Base):
    __tablename__ = "ticket"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("project.id"))
    project: Mapped[Project] = relationship(back_populates="tickets")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))
    status: Mapped[Status] = mapped_column(Enum(Status))
    title: Mapped[str] = mapped_column(Text)
    opened: Mapped[datetime.datetime] = mapped_column(DateTime)
    closed: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))
    due: Mapped[datetime.time | None] = mapped_column(Time)
    spent: Mapped[datetime.timedelta | None] = mapped_column(Interval)
    urgent: Mapped[bool | None] = mapped_column(Boolean)
    extra: Mapped[dict | None] = mapped_column(JSON)
    blob: Mapped[bytes | None] = mapped_column(LargeBinary)
    labels: Mapped[list[Label]] = relationship(secondary=tagging)
db = os.environ["APP_DB"]
engine = create_engine(db.replace("postgres://", "postgresql+psycopg://", 1) if "://" in db else "sqlite:///" + db)
def schema(): Base.metadata.create_all(engine)
def fill():
    with Session(engine) as s:
        p = Project(name="Ünï", budget=decimal.Decimal("123456789.125"), rate=1e-300, started=datetime.date(1, 1, 1))
        q = Project(name="Two", budget=decimal.Decimal("-0.001"), rate=-0.0)
        l1, l2, l3 = Label(id=1, text="bug"), Label(id=2, text="ui"), Label(id=3, text="gone")
        t1 = Ticket(project=p, status=Status.open, title="a\nb", opened=datetime.datetime(2024, 2, 29, 23, 59, 59, 999999),
                    closed=datetime.datetime(2024, 3, 1, 1, 2, 3, 4, tzinfo=datetime.timezone(datetime.timedelta(hours=-7))),
                    due=datetime.time(0, 0, 0, 1), spent=datetime.timedelta(days=400, seconds=5, microseconds=6), urgent=False,
                    extra={"x": [1, 2.5, None], "y": {"z": "ü"}}, blob=b"\x00" * 3, labels=[l1, l2])
        t2 = Ticket(project=q, status=Status.closed, title="", opened=datetime.datetime(1970, 1, 1),
                    spent=datetime.timedelta(microseconds=-1), labels=[l1])
        s.add_all([p, q, l3, t1, t2]); s.commit()
        t3 = Ticket(project=p, parent_id=t1.id, status=Status.open, title="child", opened=datetime.datetime(2000, 1, 1))
        s.add(t3); s.commit()
        s.delete(l3); s.delete(s.get(Ticket, t2.id)); s.commit()
def val(v):
    if isinstance(v, bytes): return "bytes:" + v.hex()
    if isinstance(v, datetime.datetime): return "dt:" + (v if v.tzinfo else v.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    if isinstance(v, (datetime.date, datetime.time, datetime.timedelta, decimal.Decimal, uuid.UUID, Status)): return type(v).__name__ + ":" + str(v)
    if isinstance(v, float): return "float:" + repr(v)
    return v
def dump():
    out = {}
    with Session(engine) as s:
        for m in (Project, Label, Ticket):
            out[m.__name__] = sorted(json.dumps({c.key: val(getattr(o, c.key)) for c in m.__table__.columns}, sort_keys=True) for o in s.scalars(select(m)))
        out["tagging"] = sorted(str(r) for r in s.execute(select(tagging)))
    print(json.dumps(out, indent=1, ensure_ascii=False))
def write():
    with Session(engine) as s:
        p = s.scalars(select(Project).where(Project.name == "Ünï")).one()
        t = Ticket(project=p, status=Status.closed, title="new", opened=datetime.datetime.now(), spent=datetime.timedelta(hours=1), extra={"k": 1})
        s.add(t); s.flush()
        assert t.id == 4, t.id
        assert s.scalars(select(Ticket).where(Ticket.spent > datetime.timedelta(days=1))).one().title == "a\nb"
        assert s.scalars(select(Ticket).where(Ticket.status == Status.open)).all()
        assert s.get(Project, p.id).budget == decimal.Decimal("123456789.125")
        lab = Label(id=4, text="new"); t.labels.append(lab)
        s.commit()
    print("writes ok")
globals()[sys.argv[1]]()
