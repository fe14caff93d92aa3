"""JSON request bodies read with orjson, refused cheaply when too large or too deeply nested."""

import re

import orjson
from rest_framework import parsers
from rest_framework.exceptions import ParseError

# The API's bodies are flat objects of a few hundred characters; these bounds leave ample room
# while keeping the cost of refusing a hostile body to a few milliseconds.
MAX_BODY_BYTES = 64 * 1024
MAX_DEPTH = 32

TOO_LARGE_MESSAGE = f"JSON parse error - the body is larger than {MAX_BODY_BYTES:,} bytes."
TOO_DEEP_MESSAGE = (
    f"JSON parse error - the body nests deeper than {MAX_DEPTH} levels of arrays and objects."
)

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
    bytes that are not text in it, `NaN` and `Infinity` are parse errors.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        body = stream.read(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            raise ParseError(TOO_LARGE_MESSAGE)
        try:
            text = body.decode(encoding)
        except UnicodeDecodeError as error:
            raise ParseError(f"JSON parse error - {error}") from None
        if nests_deeper_than(text, MAX_DEPTH):
            raise ParseError(TOO_DEEP_MESSAGE)
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as error:
            raise ParseError(f"JSON parse error - {error}") from None
