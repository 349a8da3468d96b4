"""Shared building blocks of the file schemas."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


class Strict(BaseModel):
    """A mapping whose keys are all known: an unknown key is a typo, said at its line."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    label: ClassVar[str] = ""


class Open(BaseModel):
    """A mapping checked only for the keys listed (the loader checks the rest)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    label: ClassVar[str] = ""


def _date_only(v: Any) -> Any:
    # a number is not a date (pydantic would read 20270630 as a Unix time)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        raise ValueError("expected YYYY-MM-DD")
    return v


Date = Annotated[dt.date, BeforeValidator(_date_only)]
Text = Annotated[str, Field(min_length=1)]
Version = Literal[1]


class Bilingual(Strict):
    """Text for people in both languages. Quote a text with a comma inside ``{zh: …, en: …}``:
    unquoted, YAML reads what follows the comma as another key."""

    zh: str | None = None
    en: str | None = None
