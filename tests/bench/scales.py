"""Data sizes of the scale benchmark (no Django imports: read before settings load)."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Scale:
    name: str
    sites: int
    chairs_per_site: int
    patients: int
    sessions: int
    readings: int
    audit_events: int
    years: int = 5
    staff_per_site: int = 4


SCALES = {
    "full": Scale("full", sites=10, chairs_per_site=12, patients=20_000, sessions=500_000, readings=3_000_000,
                  audit_events=10_000_000),
    # 1/100 of the data; the same 12 chairs per site, so every page has the same shape.
    "small": Scale("small", sites=2, chairs_per_site=12, patients=200, sessions=5_000, readings=30_000,
                   audit_events=100_000),
}  # fmt: skip
