"""MkDocs hooks: the reference pages written from the API itself when the site is built.

api/reference.py writes the endpoints (from the OpenAPI schema) and the error codes (from the
code that raises them); they are added to the site as pages, never committed, so they cannot
fall behind the code.
"""

import subprocess
import sys
from pathlib import Path

from mkdocs.structure.files import File

PROJECT_DIR = Path(__file__).resolve().parent
GENERATED = {"reference/endpoints.md": "endpoints", "reference/errors.md": "errors"}


def _render(page: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "api.reference", page],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "DJANGO_DEBUG": "true"},
    )
    if result.returncode != 0:
        raise RuntimeError(f"api.reference {page} failed:\n{result.stderr}")
    return result.stdout


def on_files(files, config):
    for path, page in GENERATED.items():
        files.append(File.generated(config, path, content=_render(page)))
    return files
