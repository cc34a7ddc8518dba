"""Models with the values that are awkward to carry between SQLite and PostgreSQL."""
import uuid

from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=40)
    email = models.EmailField(unique=True)
    active = models.BooleanField(default=True)
    rating = models.SmallIntegerField(null=True)
    ip = models.GenericIPAddressField(null=True)


class Tag(models.Model):
    label = models.SlugField(unique=True)


class Book(models.Model):
    uid = models.UUIDField(default=uuid.uuid4, unique=True)
    title = models.CharField(max_length=100)
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
    tags = models.ManyToManyField(Tag, blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    # 18 digits: SQLite keeps a double, which Django reads back to 15 significant digits.
    balance = models.DecimalField(max_digits=20, decimal_places=8, null=True)
    published = models.DateTimeField()
    on_sale = models.DateField(null=True)
    opens = models.TimeField(null=True)
    read_time = models.DurationField(null=True)
    meta = models.JSONField(null=True)
    cover = models.BinaryField(null=True)
    weight = models.FloatField(null=True)
    pages = models.PositiveIntegerField(default=0)
    blurb = models.TextField(blank=True)
