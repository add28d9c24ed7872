"""Model text fields that never store invisible format characters (``clinic.text``), whatever
writes them: a form, the Django admin, a service or the patient link.

They deconstruct as Django's own fields: the database and the migrations do not change, only
the values written."""

from django.db import models

from .text import strip_invisible


class _VisibleText:
    def to_python(self, value):
        value = super().to_python(value)
        return strip_invisible(value) if isinstance(value, str) else value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return strip_invisible(value) if isinstance(value, str) else value

    def pre_save(self, model_instance, add):
        # The instance holds what is stored, so the page after a save shows it too.
        value = getattr(model_instance, self.attname)
        if isinstance(value, str):
            value = strip_invisible(value)
            setattr(model_instance, self.attname, value)
        return value

    def deconstruct(self):
        name, _, args, kwargs = super().deconstruct()
        return name, f"django.db.models.{self._django_name}", args, kwargs


class CharField(_VisibleText, models.CharField):
    _django_name = "CharField"


class TextField(_VisibleText, models.TextField):
    _django_name = "TextField"


class EmailField(_VisibleText, models.EmailField):
    _django_name = "EmailField"
