from collections import namedtuple
from collections.abc import Callable
from html import escape

from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import QuerySet, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.formats import localize
from django.utils.safestring import SafeString, mark_safe

from .models import Patient, Site, SiteGeneration
from .rows import converter, instances_from, select_list

# The columns the patient list shows (patient_rows_html).
LIST_FIELDS = ["mrn", "first_name", "last_name", "date_of_birth", "phone", "rems_enrollment_id"]
_ID_PLACEHOLDER = 987654321


def _prefix_match(column: str) -> str:
    # UPPER(column) is the expression of the prefix indexes (migration 0004). PostgreSQL's LIKE
    # escapes with a backslash by default; SQLite needs it said (and ignores case itself).
    escape = " ESCAPE '\\'" if connection.vendor == "sqlite" else ""
    return f"UPPER({column}) LIKE UPPER(%s){escape}"


def _search_condition(query: str) -> tuple[str, list[str]]:
    """The SQL condition of a search (not empty) and its parameters: a prefix of the MRN (a
    whole MRN included), the last name or the first name; several words match first and last
    name in either order."""
    prefix = connection.ops.prep_for_like_query
    clauses = [_prefix_match("mrn")]
    params = [prefix(query) + "%"]
    words = query.split()
    if len(words) == 1:
        clauses += [_prefix_match("last_name"), _prefix_match("first_name")]
        params += [prefix(query) + "%", prefix(query) + "%"]
    else:
        first, last = words[0], " ".join(words[1:])
        both = f"({_prefix_match('first_name')} AND {_prefix_match('last_name')})"
        clauses += [both, both]
        params += [prefix(first) + "%", prefix(last) + "%", prefix(last) + "%", prefix(first.rstrip(",")) + "%"]
    return "(" + " OR ".join(clauses) + ")", params


# Sorted after the match: ordered by the bare column, PostgreSQL walks patient_name_idx from
# "A" and filters every row until it has a page (16,000 rows for "Smi"), because it assumes
# matches are spread evenly over the alphabet. The prefix indexes (migration 0004) find the
# few hundred matches and sorting them costs ~1 ms. COALESCE of a NOT NULL column is the
# column itself; it only hides the name index.
_MATCH_ORDER = "COALESCE(last_name, ''), first_name, id"


def patient_search(query: str) -> QuerySet[Patient]:
    """Name or MRN prefix search (see ``_search_condition``), in name order. Reads the columns
    of the patient list only."""
    qs = Patient.objects.only(*LIST_FIELDS)
    query = (query or "").strip()
    if not query:
        return qs.order_by("last_name", "first_name", "pk")
    condition, params = _search_condition(query)
    matching = qs.extra(where=[condition], params=params)  # noqa: S610 - every value is a parameter
    return matching.order_by(Coalesce("last_name", Value("")), "first_name", "pk")


PATIENTS_PER_PAGE = 25
ListRow = namedtuple("ListRow", ["pk", *LIST_FIELDS])
_LIST_COLUMNS = ", ".join(["id", *LIST_FIELDS])


def patient_page(query: str, number) -> Page:
    """One page of ``patient_search(query)`` (``number`` as ``Paginator.get_page`` takes it).

    With a search term PostgreSQL sorts every match anyway, so the page's rows carry the
    number of matches (``COUNT(*) OVER ()``) and the page is one plain statement instead of a
    count and a page (the patient list is searched all day, and building the query through
    the ORM took half as long as running it). Without one, the list walks the name index for
    its page and counting all patients separately is cheaper; that, and a page number past
    the last page, go through ``Paginator`` as usual."""
    query = (query or "").strip()
    try:
        number = int(number)
    except (TypeError, ValueError):
        number = 1
    if query and number >= 1:
        condition, params = _search_condition(query)
        sql = (
            f"SELECT {_LIST_COLUMNS}, COUNT(*) OVER () FROM {Patient._meta.db_table} "  # noqa: S608 - names from the model
            f"WHERE {condition} ORDER BY {_MATCH_ORDER} LIMIT %s OFFSET %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, PATIENTS_PER_PAGE, (number - 1) * PATIENTS_PER_PAGE])
            rows = cursor.fetchall()
        if rows:
            paginator = Paginator((), PATIENTS_PER_PAGE)
            paginator.count = rows[0][-1]  # a cached property: Paginator does not count again
            birth_date = converter(Patient._meta.get_field("date_of_birth"))
            patients = [ListRow(*row[:4], birth_date(row[4]), *row[5:-1]) for row in rows]
            return Page(patients, number, paginator)
    return Paginator(patient_search(query), PATIENTS_PER_PAGE).get_page(number)


def all_sites() -> list[Site]:
    """Every site by name (the site pickers of the board, the schedule and the reports), with
    one plain statement: a handful of rows the ORM took longer to build the query for than to
    read."""
    quote = connection.ops.quote_name
    table = quote(Site._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {select_list(Site)} FROM {table} ORDER BY {table}.{quote('name')}, {table}.id")  # noqa: S608
        return [site for (site,) in (instances_from(row, Site) for row in cursor.fetchall())]


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


_ENROLLED = '<span class="badge bg-success">Enrolled</span>'
_NOT_ENROLLED = '<span class="badge bg-warning text-dark">Not enrolled</span>'


def patient_rows_html(patients) -> SafeString:
    """The rows of the patient list, every value escaped: built here because 25 rows printed
    value by value in the template language were most of the page's time."""
    detail_url = url_for_pk("clinic:patient-detail")
    rows = []
    for patient in patients:
        rows.append(
            "\n    <tr>\n"
            f'      <td><a href="{detail_url(patient.pk)}">{escape(patient.last_name)}, '
            f"{escape(patient.first_name)}</a></td>\n"
            f"      <td>{escape(patient.mrn)}</td>\n"
            f"      <td>{patient.date_of_birth:%Y-%m-%d}</td>\n"
            f"      <td>{escape(patient.phone)}</td>\n"
            f"      <td>{_ENROLLED if patient.rems_enrollment_id else _NOT_ENROLLED}</td>\n"
            "    </tr>\n  "
        )
    return mark_safe("".join(rows))  # noqa: S308 - every value escaped above
