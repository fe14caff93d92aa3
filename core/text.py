"""Text as a reader sees it: which characters show nothing, and when a text is blank."""

import unicodedata

from django.core.exceptions import ValidationError

BLANK_TEXT_MESSAGE = (
    "This field may not be blank: spaces and invisible characters alone do not count."
)

# Spaces and separators, control characters, and format characters: zero-width spaces and
# joiners, the byte order mark, bidi marks, embeddings and isolates, the soft hyphen...
_INVISIBLE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf"})
# Unicode's default-ignorable code points outside those categories: a combining grapheme
# joiner, Hangul fillers, Khmer and Mongolian ones, variation selectors; all drawn as nothing.
_IGNORABLE = frozenset(
    map(
        chr,
        [
            0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180B, 0x180C, 0x180D, 0x180F, 0x3164,
            0xFFA0, *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0),
        ],
    )
)  # fmt: skip


def is_invisible(char: str) -> bool:
    """Whether the character `char` shows nothing by itself."""
    return char in _IGNORABLE or unicodedata.category(char) in _INVISIBLE_CATEGORIES


def is_blank(text: str) -> bool:
    """Whether `text` shows nothing: it is empty, or every character in it is invisible."""
    return all(map(is_invisible, text))


def first_visible(text: str) -> str:
    """The first character of `text` that shows something, or "" when it is blank."""
    return next((char for char in text if not is_invisible(char)), "")


def validate_not_blank(value: str) -> None:
    """A Django validator: refuse text that is_blank, as a blank field is refused."""
    if is_blank(value):
        raise ValidationError(BLANK_TEXT_MESSAGE, code="blank")
