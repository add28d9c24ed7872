from django.core.paginator import Page, Paginator
from django.db.models import Count, Q, QuerySet, Value, Window
from django.db.models.functions import Coalesce

from . import rules
from .models import Patient, Site

# The columns the patient list shows (templates/clinic/patient_list.html).
LIST_FIELDS = ["mrn", "first_name", "last_name", "date_of_birth", "phone", "rems_enrollment_id"]


def _search_condition(query: str) -> Q:
    """A search (not empty): a prefix of the MRN (a whole MRN included), the last name or the
    first name, ignoring case; several words match first and last name in either order.
    ``istartswith`` is ``UPPER(column::text) LIKE UPPER('x%')`` on PostgreSQL, the expression
    of the prefix indexes (migration 0004)."""
    condition = Q(mrn__istartswith=query)
    words = query.split()
    if len(words) == 1:
        return condition | Q(last_name__istartswith=query) | Q(first_name__istartswith=query)
    first, last = words[0], " ".join(words[1:])
    return (
        condition
        | Q(first_name__istartswith=first, last_name__istartswith=last)
        | Q(first_name__istartswith=last, last_name__istartswith=first.rstrip(","))
    )


def patient_search(query: str) -> QuerySet[Patient]:
    """Name or MRN prefix search (see ``_search_condition``), in name order. Reads the columns
    of the patient list only.

    Matches are sorted by COALESCE(last_name, ''), not the bare column: ordered by the column,
    PostgreSQL walks patient_name_idx from "A" and filters every row until it has a page
    (16,000 rows for "Smi"), because it assumes matches are spread evenly over the alphabet.
    The prefix indexes find the few hundred matches and sorting them costs ~1 ms. COALESCE of
    a NOT NULL column is the column itself; it only hides the name index."""
    qs = Patient.objects.only(*LIST_FIELDS)
    query = (query or "").strip()
    if not query:
        return qs.order_by("last_name", "first_name", "pk")
    return qs.filter(_search_condition(query)).order_by(Coalesce("last_name", Value("")), "first_name", "pk")


PATIENTS_PER_PAGE = 25


def patient_page(query: str, number) -> Page:
    """One page of ``patient_search(query)`` (``number`` as ``Paginator.get_page`` takes it).

    With a search term PostgreSQL sorts every match anyway, so the page's rows carry the
    number of matches (``COUNT(*) OVER ()``): one statement instead of a count and a page (the
    patient list is searched all day). Without one, the list walks the name index for its page
    and counting all patients separately is cheaper; that, and a page number past the last
    page, go through ``Paginator`` as usual. The number is bounded first (``rules.page_number``):
    ``?page=99999999999999999999`` is the last page, not an offset past what PostgreSQL counts."""
    query = (query or "").strip()
    number = rules.page_number(number)
    if query:
        start = (number - 1) * PATIENTS_PER_PAGE
        matches = patient_search(query).annotate(matches=Window(Count("*")))
        patients = list(matches[start : start + PATIENTS_PER_PAGE])
        if patients:
            paginator = Paginator((), PATIENTS_PER_PAGE)
            paginator.count = patients[0].matches  # a cached property: Paginator does not count again
            return Page(patients, number, paginator)
    return Paginator(patient_search(query), PATIENTS_PER_PAGE).get_page(number)


def all_sites() -> list[Site]:
    """Every site by name (the site pickers of the board, the schedule and the reports)."""
    return list(Site.objects.order_by("name", "pk"))


def site_with_id(sites: list[Site], site_id) -> Site | None:
    """The site of ``sites`` that ``site_id`` names (a number, or the text of a query
    parameter), or None when it names none of them."""
    text = str(site_id or "")
    wanted = int(text) if text.isdecimal() else None
    return next((site for site in sites if site.pk == wanted), None)
