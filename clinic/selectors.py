from collections.abc import Callable
from html import escape

from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Count, Q, QuerySet, Value, Window
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.formats import localize
from django.utils.safestring import SafeString, mark_safe

from .models import Patient, Site, SiteGeneration

# The columns the patient list shows (templates/clinic/patient_list.html).
LIST_FIELDS = ["mrn", "first_name", "last_name", "date_of_birth", "phone", "rems_enrollment_id"]
_ID_PLACEHOLDER = 987654321


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
    page, go through ``Paginator`` as usual."""
    query = (query or "").strip()
    try:
        number = int(number)
    except (TypeError, ValueError):
        number = 1
    if query and number >= 1:
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


def site_options_html(sites: list[Site], selected) -> SafeString:
    """The options of a site picker, ``selected`` (a site's id, as a number or as the text of
    a form value) marked: built here because the template spent ten times as long on them."""
    selected = str(selected)
    return mark_safe(  # noqa: S308 - the name is escaped, the id is a number
        "".join(
            f'<option value="{int(site.pk)}"{" selected" if str(site.pk) == selected else ""}>{escaped(site)}</option>'
            for site in sites
        )
    )


def url_for_pk(viewname: str, *, escaped: bool = True) -> Callable[[int], str]:
    """``reverse(viewname, args=[pk])`` (escaped for HTML unless ``escaped=False``), for a
    page of rows at the cost of a single reverse()."""
    head, _, tail = reverse(viewname, args=[_ID_PLACEHOLDER]).partition(str(_ID_PLACEHOLDER))
    if escaped:
        head, tail = escape(head), escape(tail)
    return lambda pk: f"{head}{int(pk)}{tail}"


def escaped(value) -> str:
    """What django.utils.html.escape returns, without its lazy-string wrapper, for pages that
    escape a thousand values a request."""
    return escape(str(value))


def printed(value) -> str:
    """``value`` as the template language prints a variable: localized, then escaped."""
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, int):  # bool too: localize() gives str() of both (no thousand separator)
        return str(value)
    return escape(str(localize(value)))


# Kept only to bound memory: what is stored under a generation is never wrong for that generation.
GENERATION_CACHE_SECONDS = 3600


def cached_per_generation(counter: type[SiteGeneration], site, key: str, compute: Callable[[], object]):
    """``compute()``, kept in the process's cache under ``key`` and the site's current value of
    ``counter``. The counter is read first (one query): what is computed after reading value N
    holds at least every write up to N, so keeping it under N never hides a change, and the
    first request after a write computes it again. SQLite has no triggers to move the counters:
    there ``compute()`` runs on every request."""
    if connection.vendor != "postgresql":
        return compute()
    key = f"{key}:{site.pk}:{counter.of(site)}"
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, GENERATION_CACHE_SECONDS)
    return value
