"""Posting the Django admin's change forms as a browser would: the page's own values, with
some changed."""

from django import forms


def _value(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else ""
    if isinstance(value, list | tuple):
        return [str(getattr(v, "pk", v)) for v in value]
    return str(getattr(value, "pk", value))


def _form_data(form) -> dict:
    data = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        value = form.initial.get(name, field.initial)
        if callable(value):
            value = value()
        key = form.add_prefix(name)
        if hasattr(field.widget, "widgets") and hasattr(field.widget, "decompress"):
            for i, part in enumerate(field.widget.decompress(value)):
                data[f"{key}_{i}"] = _value(part)
            continue
        if isinstance(field, forms.JSONField):
            data[key] = field.prepare_value(value)
            continue
        converted = _value(value)
        if converted in ("", []) and isinstance(value, bool | type(None)):
            continue
        data[key] = converted
    return data


def admin_form_data(response, **changes) -> dict:
    """The POST data of an admin add/change page (its form and inline formsets), with
    ``changes`` applied (a value of None removes the field)."""
    context = response.context
    data = _form_data(context["adminform"].form)
    for inline in context.get("inline_admin_formsets", []):
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = str(management.initial.get(name, ""))
        for form in formset.initial_forms:
            data.update(_form_data(form))
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data
