"""Free text as staff and patients type it, without the invisible characters that reorder or
hide what is shown: the bidirectional embeddings, overrides and isolates (U+202A-U+202E,
U+2066-U+2069), the left-to-right and right-to-left marks (U+200E, U+200F) and the other
zero-width format characters. A right-to-left override in a name makes a staff page show
``+12125550123`` as ``32105552121+``."""

import re

INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def strip_invisible(value: str) -> str:
    return INVISIBLE.sub("", value)
