"""What a message says once the tricks of typing are undone: compatibility forms (fullwidth letters and digits),
invisible characters (zero-width spaces inside words), right-to-left overrides (text stored backwards) and letters
from other scripts that look Latin (a Cyrillic "е" in a partner name). Understanding and the input guard read this
form, so "ｐ－０４１" is p-041 and "Vеrity Labs" is Verity Labs, for scope checks as for everything else."""

from __future__ import annotations

import re
import unicodedata

_INVISIBLE = re.compile("[\u200b-\u200d\u2060\ufeff\u00ad\u180e]")
_OVERRIDE = re.compile("[\u202e\u2067]([^\u202a-\u202e\u2066-\u2069]*)[\u202c\u2069]?")
_BIDI = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Cyrillic and Greek letters that render like Latin ones (the common confusables).
_CONFUSABLES = str.maketrans({
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t",
    "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "А": "A", "В": "B", "Е": "E",
    "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T", "Х": "X", "І": "I", "Ј": "J", "Ѕ": "S",
    "α": "a", "ο": "o", "ρ": "p", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "τ": "t", "υ": "u", "χ": "x",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P",
    "Τ": "T", "Υ": "Y", "Χ": "X",
})


def plain(text: str) -> str:
    """The message as a reader sees it on screen, in plain characters."""
    text = _OVERRIDE.sub(lambda m: m.group(1)[::-1], text)
    text = _BIDI.sub("", _INVISIBLE.sub("", text))
    text = unicodedata.normalize("NFKC", text)
    return text.translate(_CONFUSABLES)
