from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Coalesce

from .models import Patient


def patient_search(query: str) -> QuerySet[Patient]:
    """Name or MRN prefix search. Several words match first and last name in either order."""
    qs = Patient.objects.select_related("site")
    query = (query or "").strip()
    if not query:
        return qs.order_by("last_name", "first_name", "pk")
    condition = Q(mrn__iexact=query) | Q(mrn__istartswith=query)
    words = query.split()
    if len(words) == 1:
        condition |= Q(last_name__istartswith=query) | Q(first_name__istartswith=query)
    else:
        first, last = words[0], " ".join(words[1:])
        condition |= Q(first_name__istartswith=first, last_name__istartswith=last)
        condition |= Q(last_name__istartswith=first.rstrip(","), first_name__istartswith=last)
    # Same order as above, but sorted after the match: ordered by the bare column, PostgreSQL
    # walks patient_name_idx from "A" and filters every row until it has a page (16,000 rows
    # for "Smi"), because it assumes matches are spread evenly over the alphabet. The prefix
    # indexes (migration 0004) find the few hundred matches and sorting them costs ~1 ms.
    # COALESCE of a NOT NULL column is the column itself; it only hides the name index.
    return qs.filter(condition).order_by(Coalesce("last_name", Value("")), "first_name", "pk")
