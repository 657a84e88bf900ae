"""Texts of rule files that people read (a decision's reason, a tier's title and benefits): plain
text, or the same text in both languages of the console, `{zh: 在信用额度内, en: within the credit
headroom}`. Code that needs one string reads the English (a plain text is both languages)."""
from __future__ import annotations

from typing import Any

LANGUAGES = ("zh", "en")


def text_schema(**limits: Any) -> dict:
    """Plain text, or a mapping with the text in each language (each held to `limits`, e.g.
    maxLength). One schema, no alternatives: the string keywords apply to text, the object keywords
    to the mapping, so the errors stay those of a single shape."""
    one = {"type": "string", "minLength": 1, **limits}
    return {"type": ["string", "object"], "minLength": 1, **limits,
            "additionalProperties": False, "required": list(LANGUAGES),
            "properties": {lang: one for lang in LANGUAGES},
            "description": "text, or the text in both languages: {zh: …, en: …}"}


def text_in(value: Any, lang: str = "en") -> str:
    """The text in a language: `lang` of a bilingual mapping ("zh_CN" reads as "zh"), or the plain
    text. Anything else: "" for none, else the value as text."""
    if value is None:
        return ""
    if isinstance(value, dict):
        key = "zh" if lang.lower().startswith("zh") else "en"
        return str(value.get(key) or value.get("en") or value.get("zh") or "")
    return str(value)


def both(value: Any) -> dict[str, str]:
    """The text in each language (a plain text is the same in both)."""
    return {lang: text_in(value, lang) for lang in LANGUAGES}


def bilingual(value: Any) -> bool:
    return isinstance(value, dict)
