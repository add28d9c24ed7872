"""Outcome instruments as data: items, answer options, scoring range, severity bands, cut-offs
and LOINC codes. Pure definitions (no database); ``monitoring.rules_outcomes`` scores them.

Wording: PHQ-9 and GAD-7 are free to reproduce (Pfizer: "No permission required to reproduce,
translate, display or distribute"), so their items are shown as written. The MADRS item
wording and anchor descriptions are not reproduced: the clinician sees the item's name and the
anchor numbers 0-6 (the even numbers carry the scale's own descriptions in the rater's manual).

The wording is marked for translation (shown in the clinic's language): a clinic puts the
instruments' validated translation in its catalog. The names (PHQ-9, GAD-7, MADRS) stay as
they are.
"""

import dataclasses

from django.utils.translation import gettext_lazy as _

PHQ9 = "phq9"
GAD7 = "gad7"
MADRS = "madrs"

PATIENT = "patient"  # self-report, answered on the patient's link
CLINICIAN = "clinician"  # rated by a clinician on the session-day page


@dataclasses.dataclass(frozen=True)
class Option:
    value: int
    label: str


@dataclasses.dataclass(frozen=True)
class Item:
    number: int
    text: str  # the item's wording, or only its name where the wording is not free


@dataclasses.dataclass(frozen=True)
class Band:
    """Totals from ``low`` to ``high`` inclusive."""

    low: int
    high: int
    label: str
    css: str  # a colour class for the band on pages and charts


@dataclasses.dataclass(frozen=True)
class Instrument:
    code: str
    name: str
    rater: str  # PATIENT or CLINICIAN
    stem: str  # the question all items answer, shown above them
    items: tuple[Item, ...]
    options: tuple[Option, ...]
    bands: tuple[Band, ...]
    # Remission: a total at or below this. Response: a drop of at least RESPONSE_DROP from the
    # baseline. Worsening: a rise of at least this many points above the baseline.
    remission_max: int
    worsening_points: int
    loinc_panel: str = ""
    loinc_total: str = ""
    # The safety item (1-based) and the answer from which it raises an alert and holds dosing.
    safety_item: int | None = None
    safety_min: int = 1
    functional_question: str = ""
    functional_options: tuple[Option, ...] = ()
    options_are_numbers_only: bool = False  # the anchors' wording is not free: numbers only

    @property
    def max_total(self) -> int:
        return len(self.items) * max(o.value for o in self.options)

    @property
    def is_self_report(self) -> bool:
        return self.rater == PATIENT


RESPONSE_DROP = 0.5  # response: at least a 50 % drop from the baseline total (DOMAIN.md "Scales")

_FREQUENCY = (
    Option(0, _("Not at all")),
    Option(1, _("Several days")),
    Option(2, _("More than half the days")),
    Option(3, _("Nearly every day")),
)
_TWO_WEEKS = _("Over the last 2 weeks, how often have you been bothered by any of the following problems?")

PHQ9_INSTRUMENT = Instrument(
    code=PHQ9,
    name="PHQ-9",
    rater=PATIENT,
    stem=_TWO_WEEKS,
    items=(
        Item(1, _("Little interest or pleasure in doing things")),
        Item(2, _("Feeling down, depressed, or hopeless")),
        Item(3, _("Trouble falling or staying asleep, or sleeping too much")),
        Item(4, _("Feeling tired or having little energy")),
        Item(5, _("Poor appetite or overeating")),
        Item(6, _("Feeling bad about yourself — or that you are a failure or have let yourself or your family down")),
        Item(7, _("Trouble concentrating on things, such as reading the newspaper or watching television")),
        Item(
            8,
            _(
                "Moving or speaking so slowly that other people could have noticed? Or the opposite — being so "
                "fidgety or restless that you have been moving around a lot more than usual"
            ),
        ),
        Item(9, _("Thoughts that you would be better off dead or of hurting yourself in some way")),
    ),
    options=_FREQUENCY,
    bands=(
        Band(0, 4, _("Minimal"), "band-minimal"),
        Band(5, 9, _("Mild"), "band-mild"),
        Band(10, 14, _("Moderate"), "band-moderate"),
        Band(15, 19, _("Moderately severe"), "band-moderately-severe"),
        Band(20, 27, _("Severe"), "band-severe"),
    ),
    remission_max=4,
    worsening_points=5,
    loinc_panel="44249-1",
    loinc_total="44261-6",
    safety_item=9,
    safety_min=1,
    functional_question=_(
        "If you checked off any problems, how difficult have these problems made it for you to do your work, "
        "take care of things at home, or get along with other people?"
    ),
    functional_options=(
        Option(0, _("Not difficult at all")),
        Option(1, _("Somewhat difficult")),
        Option(2, _("Very difficult")),
        Option(3, _("Extremely difficult")),
    ),
)

GAD7_INSTRUMENT = Instrument(
    code=GAD7,
    name="GAD-7",
    rater=PATIENT,
    stem=_TWO_WEEKS,
    items=(
        Item(1, _("Feeling nervous, anxious, or on edge")),
        Item(2, _("Not being able to stop or control worrying")),
        Item(3, _("Worrying too much about different things")),
        Item(4, _("Trouble relaxing")),
        Item(5, _("Being so restless that it is hard to sit still")),
        Item(6, _("Becoming easily annoyed or irritable")),
        Item(7, _("Feeling afraid, as if something awful might happen")),
    ),
    options=_FREQUENCY,
    bands=(
        Band(0, 4, _("Minimal"), "band-minimal"),
        Band(5, 9, _("Mild"), "band-mild"),
        Band(10, 14, _("Moderate"), "band-moderate"),
        Band(15, 21, _("Severe"), "band-severe"),
    ),
    remission_max=4,
    worsening_points=4,
    loinc_panel="69737-5",
    loinc_total="70274-6",
)

MADRS_INSTRUMENT = Instrument(
    code=MADRS,
    name="MADRS",
    rater=CLINICIAN,
    stem=_("Rate each item from 0 to 6 (the rater's manual describes the even anchors)."),
    items=(
        Item(1, _("Apparent sadness")),
        Item(2, _("Reported sadness")),
        Item(3, _("Inner tension")),
        Item(4, _("Reduced sleep")),
        Item(5, _("Reduced appetite")),
        Item(6, _("Concentration difficulties")),
        Item(7, _("Lassitude")),
        Item(8, _("Inability to feel")),
        Item(9, _("Pessimistic thoughts")),
        Item(10, _("Suicidal thoughts")),
    ),
    options=tuple(Option(n, str(n)) for n in range(7)),
    bands=(
        Band(0, 6, _("Normal / symptom absent"), "band-minimal"),
        Band(7, 19, _("Mild"), "band-mild"),
        Band(20, 34, _("Moderate"), "band-moderate"),
        Band(35, 60, _("Severe"), "band-severe"),
    ),
    remission_max=10,
    worsening_points=6,
    options_are_numbers_only=True,
)

INSTRUMENTS: dict[str, Instrument] = {i.code: i for i in (PHQ9_INSTRUMENT, GAD7_INSTRUMENT, MADRS_INSTRUMENT)}
CHOICES = [(i.code, i.name) for i in INSTRUMENTS.values()]
SELF_REPORT = tuple(code for code, i in INSTRUMENTS.items() if i.is_self_report)
CLINICIAN_RATED = tuple(code for code, i in INSTRUMENTS.items() if not i.is_self_report)


def get(code: str) -> Instrument:
    return INSTRUMENTS[code]
