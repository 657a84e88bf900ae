"""Request shapes of policies."""
from __future__ import annotations

from typing import Annotated

from pydantic import Field

from api.schemas import Strict


class QuestionCreate(Strict):
    question: Annotated[str, Field(min_length=1, max_length=2000)]


class AnswerCreate(Strict):
    answer: Annotated[str, Field(min_length=1, max_length=5000)]
    publish_to_faq: bool = False


class WithdrawBody(Strict):
    reason: Annotated[str, Field(min_length=1, max_length=1000)]
