"""A Django app lite2pg's tests did not grow up with (a clinic: UUID keys, a self-reference,
a one-to-one key, unique_together, many-to-many, decimals of 19 digits, durations, times,
JSON, binaries): `fill` writes through the ORM, `dump` prints every object as the app reads
it, `write` inserts, updates, deletes and looks up on whatever APP_DB names."""
import os, sys, json, datetime, decimal, uuid
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
import django; django.setup()
from django.forms.models import model_to_dict
from clinic.models import *
UTC = datetime.timezone.utc
def fill():
    a = Clinic.objects.create(name="North", slug="north", site="https://n.example", email="n@x.io", founded=datetime.date(1901,2,3), beds=-5, budget=9223372036854775807, ip="::ffff:10.0.0.1", rating=decimal.Decimal("4.125"), ledger=decimal.Decimal("123456789012345.6789"))
    b = Clinic.objects.create(name="Süd ✓", slug="sud", rating=decimal.Decimal("0.001"), ledger=decimal.Decimal("-0.0001"))
    g = Doctor.objects.create(clinic=a, name="Gray", kind="gp", on_call=None, shift=datetime.timedelta(hours=8, microseconds=1), starts=datetime.time(23,59,59,999999), notes={"a":[1,2,{"b":None}], "u":"ü"}, photo=b"\x00\x01")
    h = Doctor.objects.create(clinic=b, mentor=g, name="House", kind="sp", on_call=True, shift=datetime.timedelta(days=-1), notes=[])
    Doctor.objects.create(clinic=a, name="Gone", kind="gp").delete()
    Badge.objects.create(doctor=g, code="G-1", float_score=1/3)
    p = Patient.objects.create(name="Pat", born=datetime.date(2000,2,29), ext=uuid.UUID(int=5))
    p.doctors.set([g, h])
    q = Patient.objects.create(name="Quinn", born=datetime.date(1970,1,1), visits=-2147483648)
    q.doctors.set([h])
def val(v):
    if isinstance(v, (bytes, memoryview)): return "bytes:" + bytes(v).hex()
    if isinstance(v, datetime.datetime): return "dt:" + v.astimezone(UTC).isoformat()
    if isinstance(v, (datetime.date, datetime.time, datetime.timedelta, decimal.Decimal, uuid.UUID)): return type(v).__name__ + ":" + str(v)
    if isinstance(v, list) and v and hasattr(v[0], "pk"): return sorted(str(x.pk) for x in v)
    if isinstance(v, float): return "float:" + repr(v)
    return v
def dump():
    out = {}
    for m in (Clinic, Doctor, Badge, Patient):
        out[m.__name__] = sorted((json.dumps({k: val(v) for k, v in model_to_dict(o).items()}, sort_keys=True, default=str) for o in m.objects.all()))
    print(json.dumps(out, indent=1, ensure_ascii=False))
def write():
    c = Clinic.objects.get(slug="north")
    d = Doctor.objects.create(clinic=c, name="New", kind="gp", shift=datetime.timedelta(minutes=5), notes={"k": 1})
    assert d.id == 4, d.id
    assert Doctor.objects.filter(notes__a__0=1).count() == 1
    assert Doctor.objects.filter(shift__gt=datetime.timedelta(hours=1)).count() == 1
    assert Patient.objects.get(ext=uuid.UUID(int=5)).name == "Pat"
    assert Clinic.objects.get(ledger=Clinic.objects.get(slug="north").ledger).slug == "north", list(Clinic.objects.values_list("ledger", flat=True))
    c.rating = decimal.Decimal("1.5"); c.save()
    Patient.objects.get(name="Quinn").delete()
    print("writes ok")
globals()[sys.argv[1]]()
