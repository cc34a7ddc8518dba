#!/usr/bin/env python3
"""lite2pg's CI drives a real Django app through its ORM: `fill` writes awkward values into
the current database, `dump` prints every object canonically (so two databases can be
compared object for object), `write` makes the application's next writes and lookups on
PostgreSQL and checks them."""
import base64
import datetime
import decimal
import json
import os
import sys
import uuid

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "app.settings")
import django  # noqa: E402

django.setup()
from django.db import connection  # noqa: E402
from shop.models import Author, Book, Tag  # noqa: E402

UTC = datetime.timezone.utc


def fill():
    ann = Author.objects.create(name="Ann", email="ann@example.com", rating=-3, ip="192.168.1.20")
    bob = Author.objects.create(name="Bob", email="bob@example.com", active=False, ip="2001:db8::7")
    gone = Author.objects.create(name="Gone", email="gone@example.com")
    tags = [Tag.objects.create(label=l) for l in ("sci-fi", "classic", "ünïcode")]
    books = [
        Book.objects.create(
            uid=uuid.UUID("6f1c2b1e-0a7d-4c3e-9b8a-7f6e5d4c3b2a"), title="First", author=ann,
            price=decimal.Decimal("123.40"), balance=decimal.Decimal("12345678901.12345678"),
            published=datetime.datetime(2024, 3, 5, 12, 34, 56, 123456, tzinfo=UTC),
            on_sale=datetime.date(2024, 3, 5), opens=datetime.time(9, 30, 0, 5),
            read_time=datetime.timedelta(days=1, hours=2, microseconds=7),
            meta={"tags": ["a", "b"], "n": 1.5, "nested": {"deep": [1, None, True]}},
            cover=b"\x00\xff\x10binary", weight=0.1 + 0.2, pages=321, blurb="line1\nline2 ✓"),
        Book.objects.create(
            title="Second", author=bob, price=decimal.Decimal("10.00"),
            published=datetime.datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),
            read_time=datetime.timedelta(seconds=-90), meta=[1, 2, 3], weight=-0.0),
        Book.objects.create(
            title="Third", author=gone, price=decimal.Decimal("0.05"),
            published=datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=5, minutes=30))),
            meta="just a string"),
    ]
    books[0].tags.set(tags[:2])
    books[1].tags.set(tags[1:])
    # Deleted rows leave id gaps the next insert must skip.
    books[2].delete()
    gone.delete()
    Tag.objects.filter(label="classic").delete()


def value(v):
    if isinstance(v, decimal.Decimal):
        return "decimal:" + str(v)
    if isinstance(v, datetime.datetime):
        return "datetime:" + v.astimezone(UTC).isoformat()
    if isinstance(v, (datetime.date, datetime.time)):
        return type(v).__name__ + ":" + v.isoformat()
    if isinstance(v, datetime.timedelta):
        return "duration:" + str(v // datetime.timedelta(microseconds=1))
    if isinstance(v, uuid.UUID):
        return "uuid:" + str(v)
    if isinstance(v, (bytes, memoryview)):
        return "bytes:" + base64.b64encode(bytes(v)).decode()
    if isinstance(v, float):
        return "float:" + v.hex()
    return v


def dump():
    out = {}
    for model in (Author, Tag, Book):
        rows = []
        for obj in model.objects.order_by("pk"):
            row = {f.attname: value(getattr(obj, f.attname)) for f in model._meta.concrete_fields}
            if model is Book:
                row["tags"] = sorted(t.label for t in obj.tags.all())
            rows.append(row)
        out[model.__name__] = rows
    json.dump(out, sys.stdout, indent=1, sort_keys=True, ensure_ascii=False)
    print()


def write():
    assert connection.vendor == "postgresql", connection.vendor
    last_author = Author.objects.order_by("-pk").first().pk
    cy = Author.objects.create(name="Cy", email="cy@example.com")
    assert cy.pk == 4, f"the next author id is {cy.pk}: the sequence did not continue past 3"
    assert cy.pk > last_author
    book = Book.objects.create(
        title="Fourth", author=cy, price=decimal.Decimal("7.10"),
        published=datetime.datetime.now(UTC), read_time=datetime.timedelta(minutes=5),
        meta={"n": 2})
    assert book.pk == 4, f"the next book id is {book.pk}"
    # Lookups the application makes: JSON, durations, UUIDs, decimals, relations.
    assert list(Book.objects.filter(meta__tags__contains=["a"]).values_list("title", flat=True)) == ["First"]
    assert list(Book.objects.filter(meta__n=1.5).values_list("title", flat=True)) == ["First"]
    assert list(Book.objects.filter(read_time__gt=datetime.timedelta(hours=1)).values_list("title", flat=True)) == ["First"]
    assert list(Book.objects.filter(read_time__lt=datetime.timedelta(0)).values_list("title", flat=True)) == ["Second"]
    assert Book.objects.get(uid=uuid.UUID("6f1c2b1e-0a7d-4c3e-9b8a-7f6e5d4c3b2a")).title == "First"
    assert Book.objects.get(price=decimal.Decimal("123.40")).price == decimal.Decimal("123.40")
    assert str(Book.objects.get(title="Second").price) == "10.00"
    assert Author.objects.get(email="ann@example.com").books.count() == 1
    assert sorted(Book.objects.get(title="First").tags.values_list("label", flat=True)) == ["sci-fi"]
    assert Author.objects.filter(active=False).get().name == "Bob"
    # Updates and deletes, through the relations the framework's keys enforce.
    Book.objects.filter(title="First").update(read_time=datetime.timedelta(days=2), meta={"n": 3})
    assert Book.objects.get(title="First").read_time == datetime.timedelta(days=2)
    Author.objects.filter(name="Bob").delete()
    assert not Book.objects.filter(title="Second").exists(), "the cascade did not follow the foreign key"
    t = Tag.objects.create(label="new")
    assert t.pk == 4, f"the next tag id is {t.pk}"
    print("the application's writes and lookups on PostgreSQL work")


def touch():
    """The application's writes during the dual-write period, on whichever database is the
    primary: a new book with awkward values, an update, a delete, a many-to-many change."""
    label = sys.argv[2]
    ann = Author.objects.get(email="ann@example.com")
    b = Book.objects.create(
        title=f"Written on {label}", author=ann, price=decimal.Decimal("3.30"),
        published=datetime.datetime(2025, 5, 6, 7, 8, 9, 10, tzinfo=UTC),
        read_time=datetime.timedelta(days=3, seconds=4, microseconds=5),
        meta={"on": label, "list": [1.25, None]}, cover=label.encode(), weight=2.5)
    b.tags.set(Tag.objects.filter(label="sci-fi"))
    first = Book.objects.get(title="First")
    first.read_time += datetime.timedelta(minutes=1)
    first.meta = {"edited_on": label}
    first.save()
    Book.objects.filter(title=f"Written on {label}").exclude(pk=b.pk).delete()
    print(f"the application wrote on {label} ({connection.vendor})")


if __name__ == "__main__":
    {"fill": fill, "dump": dump, "write": write, "touch": touch}[sys.argv[1]]()
