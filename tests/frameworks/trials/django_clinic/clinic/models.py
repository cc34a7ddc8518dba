import uuid
from django.db import models

class Clinic(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    name = models.CharField(max_length=80, unique=True)
    slug = models.SlugField()
    site = models.URLField(blank=True)
    email = models.EmailField(null=True)
    founded = models.DateField(null=True)
    beds = models.SmallIntegerField(default=0)
    budget = models.PositiveBigIntegerField(default=0)
    ip = models.GenericIPAddressField(null=True)
    rating = models.DecimalField(max_digits=6, decimal_places=3, null=True)
    ledger = models.DecimalField(max_digits=19, decimal_places=4, null=True)

class Doctor(models.Model):
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT)
    mentor = models.ForeignKey("self", null=True, on_delete=models.SET_NULL)
    name = models.CharField(max_length=60)
    kind = models.CharField(max_length=2, choices=[("gp", "GP"), ("sp", "Specialist")])
    on_call = models.BooleanField(null=True)
    hired = models.DateTimeField(auto_now_add=True)
    shift = models.DurationField(null=True)
    starts = models.TimeField(null=True)
    notes = models.JSONField(default=dict)
    photo = models.BinaryField(null=True)
    class Meta:
        unique_together = [("clinic", "name")]

class Badge(models.Model):
    doctor = models.OneToOneField(Doctor, on_delete=models.CASCADE, primary_key=True)
    code = models.CharField(max_length=12, db_index=True)
    float_score = models.FloatField(null=True)

class Patient(models.Model):
    name = models.TextField()
    doctors = models.ManyToManyField(Doctor, related_name="patients")
    born = models.DateField()
    visits = models.IntegerField(default=0)
    ext = models.UUIDField(null=True)
