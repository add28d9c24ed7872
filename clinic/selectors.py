from django.db.models import Q, QuerySet

from .models import Patient


def patient_search(query: str) -> QuerySet[Patient]:
    """Name or MRN prefix search. Several words match first and last name in either order."""
    qs = Patient.objects.select_related("site").order_by("last_name", "first_name", "pk")
    query = (query or "").strip()
    if not query:
        return qs
    condition = Q(mrn__iexact=query) | Q(mrn__istartswith=query)
    words = query.split()
    if len(words) == 1:
        condition |= Q(last_name__istartswith=query) | Q(first_name__istartswith=query)
    else:
        first, last = words[0], " ".join(words[1:])
        condition |= Q(first_name__istartswith=first, last_name__istartswith=last)
        condition |= Q(last_name__istartswith=first.rstrip(","), first_name__istartswith=last)
    return qs.filter(condition)
