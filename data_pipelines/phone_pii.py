"""Phone-number removal: datatrove's PIIFormatter replaces only emails and public IP addresses.

The pattern asks for separators that are spaces, dashes or brackets (never dots alone), so an IPv4
address such as 93.184.216.34 is never read as a phone number, and it wants at least 10 digits
(7-digit local numbers are too easily confused with amounts and ids). Dates (2024-05-01), years and
prices do not have that shape.
"""

from __future__ import annotations

import re

from datatrove.pipeline.formatters.base import BaseFormatter

PHONE_PATTERN = re.compile(
    r"""(?<![\w.+-])
    (?:\+\d{1,3}[\s-]?)?              # country code: +1, +44
    (?:\(\d{2,4}\)|\d{2,4})           # area code, maybe in brackets
    (?:[\s-]\d{2,4}){1,3}             # groups separated by a space or a dash
    (?![\w-])""",
    re.VERBOSE,
)
MIN_DIGITS = 10


class PhoneNumberFormatter(BaseFormatter):
    """Replaces phone numbers with a fixed placeholder (555-01xx numbers are reserved for fiction)."""

    name = "📞 Phone numbers"

    def __init__(self, replacement: str = "+1 555-0100"):
        super().__init__()
        self.replacement = replacement

    def _replace(self, match: re.Match) -> str:
        text = match.group(0)
        if sum(ch.isdigit() for ch in text) < MIN_DIGITS:
            return text
        self.stat_update("phone_numbers")
        return self.replacement

    def format(self, text: str) -> str:
        return PHONE_PATTERN.sub(self._replace, text)
