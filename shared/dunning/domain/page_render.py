"""The customer's page as HTML: one Jinja2 template (autoescaped), its words per language, a stylesheet.

The page needs no JavaScript and loads nothing from another site: the stylesheet is served by the
same function under a name that changes with its content, so it can be cached for good.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import yaml

LANGUAGES = ("en-US", "zh-CN")


def _root() -> Path:
    return Path(str(resources.files("dunning").joinpath("page_templates")))


def _fill(text: str, **values: Any) -> str:
    """A phrase with its values in place ("Tries left: {left}"); the result is escaped as usual."""
    return text.format_map({k: "" if v is None else v for k, v in values.items()})


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_root())),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fill"] = _fill
    return env


@lru_cache(maxsize=4)
def strings(language: str) -> dict[str, str]:
    """The page's words in `language` (en-US when it is not one we write)."""
    name = language if language in LANGUAGES else LANGUAGES[0]
    loaded = yaml.safe_load((_root() / f"{name}.yaml").read_text("utf-8"))
    return {str(k): str(v) for k, v in loaded.items()}


@lru_cache(maxsize=1)
def stylesheet() -> tuple[str, bytes]:
    """(file name with a content hash, bytes): the name changes whenever the rules do."""
    body = (_root() / "page.css").read_bytes()
    return f"page.{hashlib.sha256(body).hexdigest()[:12]}.css", body


def render_page(context: dict[str, Any]) -> str:
    """The page for `context` (state, lang, view, forms ...): see page_templates/page.html.j2."""
    language = str(context.get("lang", LANGUAGES[0]))
    values = {"t": strings(language), "collector": None, "languages": [], "error": None, "flash": None,
              "arrangement": "none", "open": None, "forms": {}, "view": None, "verify_kind": "date_of_birth",
              "pause_days": 0} | context
    html = _environment().get_template("page.html.j2").render(values)
    return "\n".join(line for line in html.splitlines() if line.strip()) + "\n"
