"""The REMS patient monitoring record as a PDF, in the sections and field order of the
programme's Patient Monitoring Form, built with fpdf2 (pure Python: no system libraries, so the
image and a clinic's closed-network machine need nothing more than ``pip install``).

The values are the record's own (``monitoring.day.RemsRecord``): nothing is worked out here. An
incomplete record is printed as a draft: a banner and a diagonal "DRAFT" on every page, and each
missing field named. The file's outline (bookmarks) has an entry per record ("Session 301 ·
2026-11-17", "· DRAFT" when incomplete) with its sections under it, in the form's order."""

import datetime as dt
import logging
from pathlib import Path

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from clinic.formats import when

# The form's section titles for the record's sections (by their English names), in the form's
# order; in English, printed in the clinic's language.
SECTION_TITLES = {
    "Patient": gettext_noop("1. Patient information"),
    "Concomitant medicines": gettext_noop("2. Concomitant medications"),
    "Treatment": gettext_noop("3. Treatment session"),
    "Monitoring": gettext_noop("4. Post-administration monitoring"),
    "Events": gettext_noop("5. Adverse events during monitoring"),
    "Record": gettext_noop("Record notes"),
}
# A Unicode font when the machine has one (names in any script); else the PDF core font,
# whose Latin-1 covers Western names (other characters print as "?").
UNICODE_FONTS = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
)
MISSING = gettext_noop("MISSING")
# fontTools reports each glyph it keeps at INFO: nothing a clinic needs in its logs.
logging.getLogger("fontTools").setLevel(logging.WARNING)


def _font_file() -> Path | None:
    return next((p for p in UNICODE_FONTS if p.exists()), None)


class _Form(FPDF):
    def __init__(self, *, clinic_name: str, generated_at: str):
        super().__init__(orientation="portrait", unit="mm", format="Letter")
        self.clinic_name = clinic_name
        self.generated_at = generated_at
        self.draft = False
        font = _font_file()
        if font:
            self.add_font("Body", "", str(font))
            bold = font.with_name("DejaVuSans-Bold.ttf")
            self.add_font("Body", "B", str(bold if bold.exists() else font))
            self.family = "Body"
            self.unicode = True
        else:
            self.family = "Helvetica"
            self.unicode = False
        self.set_auto_page_break(auto=True, margin=18)
        self.set_title(_("REMS patient monitoring records"))
        self.set_creator(clinic_name)

    def text_of(self, value) -> str:
        text = "" if value is None else str(value)
        return text if self.unicode else text.encode("latin-1", "replace").decode("latin-1")

    def header(self):
        if self.draft:
            with self.local_context(text_color=(225, 225, 225)):
                self.set_font(self.family, "B", 90)
                with self.rotation(45, x=self.w / 2, y=self.h / 2):
                    self.text(self.w / 2 - 55, self.h / 2 + 12, self.text_of(_("DRAFT")))
        self.set_font(self.family, "", 8)
        self.cell(0, 5, self.text_of(self.clinic_name), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def footer(self):
        self.set_y(-12)
        self.set_font(self.family, "", 8)
        printed = _("Printed %(time)s · page %(page)s/%(pages)s") % {
            "time": self.generated_at,
            "page": self.page_no(),
            "pages": "{nb}",  # the page count, filled in by fpdf2 when the file is written
        }
        self.cell(0, 5, self.text_of(printed), align="R")


def _record_pages(pdf: _Form, record) -> None:
    pdf.draft = not record.complete
    pdf.add_page()
    session = record.session
    # The file's outline (a PDF reader's bookmarks): one entry per record, its sections under it.
    values = {"session": session.pk, "day": when(record.treatment_date, "iso")}
    outline = (_("Session %(session)s · %(day)s · DRAFT") if pdf.draft else _("Session %(session)s · %(day)s")) % values
    pdf.start_section(pdf.text_of(outline), level=0)
    pdf.set_font(pdf.family, "B", 14)
    pdf.cell(0, 8, pdf.text_of(_("REMS Patient Monitoring Form")), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(pdf.family, "", 10)
    submission = record.submission
    if submission and submission.reference:
        status = _("Submitted %(day)s (confirmation %(reference)s)") % {
            "day": when(submission.submitted_on, "iso"),
            "reference": submission.reference,
        }
    elif submission:
        status = _("Submitted %(day)s") % {"day": when(submission.submitted_on, "iso")}
    else:
        status = _("Not submitted")
    pdf.cell(
        0,
        6,
        pdf.text_of(_("Session %(session)s · treatment %(day)s · %(status)s") % {**values, "status": status}),
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    if record.missing:
        with pdf.local_context(fill_color=(255, 236, 200)):
            pdf.set_font(pdf.family, "B", 10)
            pdf.multi_cell(
                0,
                6,
                pdf.text_of(
                    _("DRAFT - incomplete, not for submission. Missing: %(missing)s")
                    % {"missing": ", ".join(record.missing)}
                ),
                fill=True,
                new_x=XPos.LMARGIN,
                new_y=YPos.NEXT,
            )
    for section, fields in record.sections_by_key():
        pdf.ln(2)
        title = pdf.text_of(_(SECTION_TITLES.get(section, section)))
        pdf.start_section(title, level=1)
        pdf.set_font(pdf.family, "B", 11)
        pdf.cell(0, 7, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(pdf.family, "", 9)
        with pdf.table(col_widths=(80, 110), text_align="LEFT", first_row_as_headings=False, line_height=5) as table:
            for field in fields:
                row = table.row()
                row.cell(pdf.text_of(field.label))
                if field.missing:
                    row.cell(pdf.text_of(_(MISSING)), style=_bold(pdf))
                else:
                    value = field.value
                    if isinstance(value, dt.date):
                        value = when(value, "iso")
                    if field.addendum:
                        value = _("%(value)s (addendum %(day)s: %(reason)s)") % {
                            "value": value,
                            "day": when(field.addendum.recorded_at, "iso"),
                            "reason": field.addendum.reason,
                        }
                    row.cell(pdf.text_of(value))


def _bold(pdf: _Form):
    from fpdf.fonts import FontFace

    return FontFace(family=pdf.family, emphasis="BOLD", color=(176, 0, 32))


def records_pdf(records: list, *, clinic_name: str, generated_at: dt.datetime) -> bytes:
    """One PDF of ``records`` (each starts on a new page)."""
    pdf = _Form(
        clinic_name=clinic_name,
        generated_at=f"{when(generated_at, 'iso_datetime')} {generated_at.tzname() or ''}".strip(),
    )
    for record in records:
        _record_pages(pdf, record)
    return bytes(pdf.output())
