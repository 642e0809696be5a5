"""SMS length as carriers bill it: GSM-7 septets or UCS-2 code units, split into segments.

One character outside the GSM 03.38 alphabet turns the whole message into UCS-2, which cuts a
segment from 160 to 70 characters; ``gsm7_safe`` swaps the typographic characters that sneak into
English templates (curly quotes, dashes, ellipsis) for their plain GSM equivalents.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

# GSM 03.38 default alphabet, in table order (0x1B, the escape to the extension table, left out).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: each is sent as escape + character, so it costs two septets.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_MULTI = 160, 153  # a multipart message gives 7 septets of each part to the UDH
UCS2_SINGLE, UCS2_MULTI = 70, 67  # same header, counted in 16-bit units

_TYPOGRAPHIC = str.maketrans(
    {
        "\u2018": "'",  # ‘
        "\u2019": "'",  # ’
        "\u201a": "'",  # ‚
        "\u201b": "'",  # ‛
        "\u2032": "'",  # ′
        "\u201c": '"',  # “
        "\u201d": '"',  # ”
        "\u201e": '"',  # „
        "\u201f": '"',  # ‟
        "\u2033": '"',  # ″
        "\u2010": "-",  # hyphen
        "\u2011": "-",  # non-breaking hyphen
        "\u2012": "-",  # figure dash
        "\u2013": "-",  # –
        "\u2014": "-",  # —
        "\u2015": "-",  # horizontal bar
        "\u2212": "-",  # minus sign
        "\u2026": "...",  # …
        "\u00a0": " ",  # non-breaking space
        "\u2007": " ",  # figure space
        "\u2009": " ",  # thin space
        "\u202f": " ",  # narrow non-breaking space (Babel puts it in some number/date formats)
        "\u200b": "",  # zero-width space
        "\u00ad": "",  # soft hyphen
        "\u2022": "-",  # bullet
    }
)


class Encoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


class SmsSize(BaseModel):
    """How big a message is on the wire: units are septets (GSM-7) or UTF-16 code units (UCS-2)."""

    model_config = ConfigDict(frozen=True)

    encoding: Encoding
    units: int
    segments: int
    per_segment: int  # capacity of each segment: 160/153 (GSM-7) or 70/67 (UCS-2)


def _segments(costs: list[int], single: int, multi: int) -> tuple[int, int]:
    """(segments, per_segment). A character never straddles two segments: an escaped GSM
    character or a surrogate pair that does not fit moves whole to the next segment."""
    if sum(costs) <= single:
        return 1, single
    segments, used = 1, 0
    for cost in costs:
        if used + cost > multi:
            segments, used = segments + 1, 0
        used += cost
    return segments, multi


def sms_size(text: str) -> SmsSize:
    """Encoding, length and segment count of ``text``. An empty message still costs one segment."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        costs = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
        segments, per_segment = _segments(costs, GSM7_SINGLE, GSM7_MULTI)
        return SmsSize(encoding=Encoding.GSM7, units=sum(costs), segments=segments, per_segment=per_segment)
    costs = [2 if ord(ch) > 0xFFFF else 1 for ch in text]  # astral characters (emoji) need a surrogate pair
    segments, per_segment = _segments(costs, UCS2_SINGLE, UCS2_MULTI)
    return SmsSize(encoding=Encoding.UCS2, units=sum(costs), segments=segments, per_segment=per_segment)


def gsm7_safe(text: str) -> str:
    """Replace typographic quotes, dashes, ellipsis and special spaces with GSM-7 equivalents.

    Other characters are left alone: Chinese text stays UCS-2, as it must.
    """
    return text.translate(_TYPOGRAPHIC)
