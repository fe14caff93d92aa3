"""The documentation site's reference pages, written from the API itself.

`endpoints` renders every operation of the OpenAPI schema (the one /api/schema/ serves) as
Markdown; `errors` renders the table of every error code: each status and code the operations
declare (api/<resource>/schema.py), joined with the code that raises it (the domain errors of
core/exceptions.py with the status api/exceptions.py gives them, the API's own exceptions and
DRF's). A code raised but declared by no operation, or declared but raised nowhere, stops the
build. The site's build runs this module (mkdocs_hooks.py):

    python -m api.reference endpoints > endpoints.md
    python -m api.reference errors > errors.md
"""

import json
import sys
from collections import defaultdict
from dataclasses import dataclass

JSON = "application/json"


def openapi_schema() -> dict:
    """The OpenAPI schema as /api/schema/?format=json serves it."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    document = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(document, renderer_context={}))


def _cell(text) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _operations(schema: dict):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method.upper(), operation


def _examples(content: dict) -> list[dict]:
    return [example for example in content.get("examples", {}).values() if "value" in example]


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _type(schema: dict, node: dict) -> str:
    node = _resolve(schema, node)
    if "enum" in node:
        return " or ".join(f"`{value}`" for value in node["enum"] if value is not None)
    if "allOf" in node:
        return _type(schema, node["allOf"][0])
    kind = node.get("type", "object")
    if node.get("format"):
        kind += f" ({node['format']})"
    return kind


def _fields_table(schema: dict, body: dict) -> list[str]:
    node = _resolve(schema, body)
    properties = node.get("properties", {})
    if not properties:
        return []
    required = set(node.get("required", []))
    lines = ["| field | type | required | meaning |", "|---|---|---|---|"]
    for name, field in properties.items():
        if field.get("readOnly"):
            continue
        meaning = field.get("description", _resolve(schema, field).get("description", ""))
        lines.append(
            f"| `{name}` | {_cell(_type(schema, field))} | "
            f"{'yes' if name in required else 'no'} | {_cell(meaning)} |"
        )
    return lines


def endpoints(schema: dict) -> str:
    """Every operation: its parameters, body, answers and an example of each."""
    lines = [
        "# Endpoints",
        "",
        "<!-- Written from the OpenAPI schema by api/reference.py when the site is built. -->",
        "",
        "*For developers calling the API.* By the end of this page you will have seen every "
        "operation: its parameters, its body, each status it answers and an example of each. "
        "It is written from the OpenAPI schema the running API serves at `/api/schema/`, "
        f"version {schema['info']['version']}.",
        "",
        _cell(schema["info"].get("description", "")),
        "",
        "Every operation also takes `?tz=`, an IANA time zone name (`Europe/Berlin`) in which "
        "the answer's datetimes are shown; an unknown name answers 400 `invalid_timezone`.",
    ]
    for path, method, operation in _operations(schema):
        lines += ["", f"## {operation['summary']}", "", f"`{method} {path}`", ""]
        lines += [operation.get("description", "").strip(), ""]
        parameters = [p for p in operation.get("parameters", []) if p["name"] != "tz"]
        if parameters:
            lines += ["| parameter | in | required | meaning |", "|---|---|---|---|"]
            lines += [
                f"| `{p['name']}` | {p['in']} | {'yes' if p.get('required') else 'no'} | "
                f"{_cell(p.get('description', ''))} |"
                for p in parameters
            ]
            lines.append("")
        body = operation.get("requestBody", {}).get("content", {}).get(JSON)
        if body:
            lines += ["**Body** (`application/json`):", ""]
            lines += _fields_table(schema, body["schema"])
            for example in _examples(body)[:1]:
                lines += ["", "```json", json.dumps(example["value"], ensure_ascii=False), "```"]
            lines.append("")
        lines += ["| status | meaning |", "|---|---|"]
        successes = []
        for status, response in operation["responses"].items():
            # An error's description lists its codes, one `- `code`: when` line each.
            meaning = response.get("description", "").strip().replace("\n- ", "<br>")
            lines.append(f"| {status} | {_cell(meaning.removeprefix('- '))} |")
            if status.startswith("2"):
                successes += [
                    (status, media, example["value"])
                    for media, content in response.get("content", {}).items()
                    for example in _examples(content)[:1]
                ]
        for status, media, value in successes:
            lines += ["", f"An answer {status} (`{media}`):", ""]
            if media == JSON:
                lines += ["```json", json.dumps(value, ensure_ascii=False, indent=1), "```"]
            else:
                lines += ["```text", str(value).strip(), "```"]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Raised:
    """One place in the code that answers an error: its status, code, source and message."""

    status: int
    code: str
    source: str
    message: str


def raised_errors() -> list[Raised]:
    """Every error the code answers with: domain errors, the API's exceptions and DRF's."""
    from rest_framework import exceptions as drf

    from api import exceptions as handler
    from api.auth.lockout import locked_out_message
    from api.authentication import INVALID_CREDENTIALS_MESSAGE
    from api.idempotency import InProgress, KeyReused
    from api.timezones import INVALID_TIMEZONE_CODE, INVALID_TIMEZONE_MESSAGE
    from core.exceptions import DomainError

    def subclasses(cls):
        for subclass in cls.__subclasses__():
            yield subclass
            yield from subclasses(subclass)

    found = [
        Raised(
            handler.DOMAIN_ERROR_STATUS.get(kind, 409),
            kind.code,
            f"core.exceptions.{kind.__name__}",
            kind.message,
        )
        for kind in subclasses(DomainError)
    ]
    for kind in (
        drf.ParseError,
        drf.NotAuthenticated,
        drf.AuthenticationFailed,
        drf.PermissionDenied,
        drf.NotFound,
        drf.MethodNotAllowed,
        drf.UnsupportedMediaType,
        drf.Throttled,
        KeyReused,
        InProgress,
    ):
        detail = (
            str(kind.default_detail)
            .replace("{method}", "PATCH")
            .replace("{media_type}", "text/plain")
        )
        found.append(
            Raised(
                kind.status_code, kind.default_code, f"{kind.__module__}.{kind.__name__}", detail
            )
        )
    found += [
        Raised(400, "invalid", "api.exceptions.exception_handler", handler.INVALID_INPUT_MESSAGE),
        Raised(400, INVALID_TIMEZONE_CODE, "api.timezones", INVALID_TIMEZONE_MESSAGE),
        Raised(400, "bad_request", "api.exceptions.bad_request_response",
               handler.BAD_REQUEST_MESSAGE),
        Raised(401, "invalid_credentials", "api.auth.views", INVALID_CREDENTIALS_MESSAGE),
        Raised(403, "locked_out", "api.auth.views", locked_out_message()),
        Raised(404, "not_found", "api.exceptions.not_found", handler.NOT_FOUND_MESSAGE),
        Raised(500, "server_error", "api.exceptions.server_error_response",
               handler.SERVER_ERROR_MESSAGE),
        Raised(503, "service_unavailable", "api.exceptions.service_unavailable_response",
               handler.UNAVAILABLE_MESSAGE),
    ]  # fmt: skip
    return found


def declared_errors(schema: dict) -> dict[tuple[int, str], dict[str, list[str]]]:
    """(status, code) → {"when": [...], "operations": [...]}, as the operations declare them."""
    declared: dict[tuple[int, str], dict[str, list[str]]] = defaultdict(
        lambda: {"when": [], "operations": []}
    )
    for path, method, operation in _operations(schema):
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            for content in response.get("content", {}).values():
                for example in _examples(content):
                    value = example["value"]
                    if not isinstance(value, dict) or "code" not in value:
                        continue
                    entry = declared[(int(status), value["code"])]
                    when = _cell(example.get("summary", ""))
                    if when and when not in entry["when"]:
                        entry["when"].append(when)
                    label = f"`{method} {path}`"
                    if label not in entry["operations"]:
                        entry["operations"].append(label)
    return declared


# Answered by DRF's router for any path the API has, for any method it lacks: no operation
# can declare it.
UNDECLARED = {(405, "method_not_allowed")}


def errors(schema: dict) -> str:
    """The table of every error code, its status and its meaning."""
    declared = declared_errors(schema)
    raised: dict[tuple[int, str], list[Raised]] = defaultdict(list)
    for error in raised_errors():
        raised[(error.status, error.code)].append(error)
    missing = sorted(set(raised) - set(declared) - UNDECLARED)
    unraised = sorted(set(declared) - set(raised))
    if missing or unraised:
        raise SystemExit(
            f"Error codes raised but declared by no operation: {missing}; "
            f"declared but raised nowhere: {unraised}"
        )
    lines = [
        "# Error codes",
        "",
        "<!-- Written from the code by api/reference.py when the site is built. -->",
        "",
        "*For developers handling the API's refusals.* By the end of this page you will know "
        "every `code` an error can carry, with its status, what it means and where it can "
        "happen. The table is written from the code that raises each error and from each "
        "operation's declared answers, so it lists no code the API does not send.",
        "",
        'Every error is `{"detail": "<a sentence for a person>", "code": "<stable machine '
        'code>"}`, plus `"errors": {"<field>": ["<message>", ...]}` when the input was '
        "invalid. Match on `code`, never on `detail`.",
        "",
        "| status | code | meaning | when | raised by |",
        "|---|---|---|---|---|",
    ]
    for status, code in sorted(set(raised) | set(declared)):
        sources = raised[(status, code)]
        meaning = " / ".join(dict.fromkeys(_cell(source.message) for source in sources))
        entry = declared.get((status, code), {"when": [], "operations": []})
        when = "<br>".join(entry["when"]) or "the path exists but not for this method"
        by = ", ".join(dict.fromkeys(f"`{source.source}`" for source in sources))
        lines.append(f"| {status} | `{code}` | {meaning} | {when} | {by} |")
    lines += ["", "## Which operation answers which code", ""]
    lines += ["| status | code | operations |", "|---|---|---|"]
    for (status, code), entry in sorted(declared.items()):
        lines.append(f"| {status} | `{code}` | {', '.join(entry['operations'])} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "event_management_system.settings")
    django.setup()
    page = {"endpoints": endpoints, "errors": errors}[argv[1]]
    sys.stdout.write(page(openapi_schema()))


if __name__ == "__main__":
    main(sys.argv)
