"""JSON request bodies read with orjson, refused cheaply when too large or too deeply nested."""

import codecs
import re

import orjson
from rest_framework import parsers
from rest_framework.exceptions import ParseError

# The API's bodies are flat objects of a few hundred characters; these bounds leave ample room
# while keeping the cost of refusing a hostile body to a few milliseconds.
MAX_BODY_BYTES = 64 * 1024
MAX_DEPTH = 32

TOO_LARGE_TEMPLATE = "JSON parse error - the body is larger than {:,} bytes."
TOO_LARGE_MESSAGE = TOO_LARGE_TEMPLATE.format(MAX_BODY_BYTES)
# DRF's words for a charset it refuses, so every refused charset reads the same.
UNSUPPORTED_CHARSET_MESSAGE = 'Unsupported charset "{}" in request Content-Type header.'
TOO_DEEP_MESSAGE = (
    f"JSON parse error - the body nests deeper than {MAX_DEPTH} levels of arrays and objects."
)

# Codecs Python counts as text encodings that are no character set a body is written in: they
# transform text (and punycode decodes in quadratic time) rather than read bytes as characters.
NOT_CHARSETS = frozenset({"punycode", "idna", "unicode-escape", "raw-unicode-escape", "undefined"})


def body_encoding(parser_context: dict) -> str:
    """The charset the request's Content-Type names, or the default: a parse error (400) if it
    names one that is unknown, no text encoding (`base64`, `zlib`) or no character set
    (`punycode`), rather than a guess or a 500."""
    request = parser_context.get("request")
    named = getattr(request, "content_params", {}).get("charset") if request else None
    # DRF's check refuses unknown and bytes-to-bytes codecs; Django would ignore an unknown one.
    encoding = parsers.get_encoding({"encoding": named} if named else parser_context)
    if codecs.lookup(encoding).name in NOT_CHARSETS:
        raise ParseError(UNSUPPORTED_CHARSET_MESSAGE.format(encoding))
    return encoding


# What moves the nesting level: a quote opens or closes a string, a bracket outside one opens or
# closes a level, and an escaped character (`\"` above all) does neither.
_NESTING_TOKENS = re.compile(r'\\.|["\[\]{}]', re.DOTALL)


def nests_deeper_than(text: str, limit: int) -> bool:
    """Whether `text`, read as JSON, opens more than `limit` arrays and objects inside each other.

    It answers without parsing, so a parser never recurses into a hostile body; a body with no
    more brackets than `limit` is answered by counting alone.
    """
    if text.count("[") + text.count("{") <= limit:
        return False
    depth, in_string = 0, False
    for match in _NESTING_TOKENS.finditer(text):
        token = match[0]
        if token == '"':
            in_string = not in_string
        elif in_string or len(token) == 2:
            continue
        elif token in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser on orjson: same errors, bounded in size and depth.

    A subclass so that DRF hands it the body after Django's own size check
    (`DATA_UPLOAD_MAX_MEMORY_SIZE`). As with DRF's: a charset the request names is honoured,
    bytes that are not text in it, `NaN` and `Infinity` are parse errors; so is a charset that
    cannot be honoured (body_encoding).
    """

    max_body_bytes = MAX_BODY_BYTES

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = body_encoding(parser_context or {})
        body = stream.read(self.max_body_bytes + 1)
        if len(body) > self.max_body_bytes:
            raise ParseError(
                TOO_LARGE_MESSAGE.replace(f"{MAX_BODY_BYTES:,}", f"{self.max_body_bytes:,}")
            )
        try:
            text = body.decode(encoding)
        except UnicodeError as error:
            raise ParseError(f"JSON parse error - {error}") from None
        if nests_deeper_than(text, MAX_DEPTH):
            raise ParseError(TOO_DEEP_MESSAGE)
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as error:
            raise ParseError(f"JSON parse error - {error}") from None


class BatchJSONParser(JSONParser):
    """The JSON parser for an offline scanner's upload: 500 scans need more than 64 KiB."""

    max_body_bytes = 512 * 1024
