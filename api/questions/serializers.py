"""The shape of a question, and the check of a registration's answers against its event's
questions."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.fields import VisibleCharField
from core.models import Question, QuestionKind

CHOICES_NEEDED_MESSAGE = "A choice question needs at least one choice."
CHOICES_UNEXPECTED_MESSAGE = "Only choice and multiple_choice questions have choices."
CHOICES_REPEATED_MESSAGE = "Each choice must appear once."
MAX_LENGTH_UNEXPECTED_MESSAGE = "Only text questions have a max_length."
ANSWER_REQUIRED_MESSAGE = "This question requires an answer."
UNKNOWN_QUESTION_MESSAGE = "This event has no question with this id."
NOT_TEXT_MESSAGE = "The answer must be text."
TOO_LONG_MESSAGE = "The answer must be at most {max_length} characters."
UNKNOWN_CHOICE_MESSAGE = "{value!r} is not one of the choices."
NOT_A_LIST_MESSAGE = "The answer must be a list of choices."
NOT_BOOLEAN_MESSAGE = "The answer must be true or false."
NOT_AN_OBJECT_MESSAGE = "Answers must be an object of question ids to answers."
# The longest a text answer may be when its question sets no bound.
TEXT_ANSWER_LIMIT = 2000
CHOICE_MAX_LENGTH = 200


class QuestionSerializer(serializers.ModelSerializer):
    """A question an event asks its registrants."""

    label = VisibleCharField(max_length=200)
    kind = serializers.ChoiceField(choices=QuestionKind.choices)
    choices = serializers.ListField(
        child=VisibleCharField(max_length=CHOICE_MAX_LENGTH),
        required=False,
        max_length=100,
        help_text="The options of a `choice` or `multiple_choice` question; empty otherwise.",
    )
    required = serializers.BooleanField(required=False, default=False)
    max_length = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=TEXT_ANSWER_LIMIT,
        help_text=f"A `text` answer's longest length (default {TEXT_ANSWER_LIMIT}).",
    )
    position = serializers.IntegerField(required=False, default=0, min_value=0, max_value=10_000)

    class Meta:
        model = Question
        fields = ["id", "label", "kind", "choices", "required", "max_length", "position"]

    def validate(self, attrs):
        kind = attrs.get("kind", getattr(self.instance, "kind", None))
        choices = attrs.get("choices", getattr(self.instance, "choices", []))
        max_length = attrs.get("max_length", getattr(self.instance, "max_length", None))
        errors = {}
        if kind in (QuestionKind.CHOICE, QuestionKind.MULTIPLE_CHOICE):
            if not choices:
                errors["choices"] = [CHOICES_NEEDED_MESSAGE]
            elif len(set(choices)) != len(choices):
                errors["choices"] = [CHOICES_REPEATED_MESSAGE]
        elif choices:
            errors["choices"] = [CHOICES_UNEXPECTED_MESSAGE]
        if kind != QuestionKind.TEXT and max_length is not None:
            errors["max_length"] = [MAX_LENGTH_UNEXPECTED_MESSAGE]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


@extend_schema_field({"type": "object", "additionalProperties": {}})
class AnswersField(serializers.Field):
    """An object of answers by question id, taken as the JSON parser gave it: each answer is
    checked against its question by `check_answers`, so nothing here copies or converts it."""

    default_error_messages = {"not_an_object": NOT_AN_OBJECT_MESSAGE}

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("not_an_object")
        return data

    def to_representation(self, value):
        return value


def check_answer(question: Question, value: Any) -> tuple[Any, str | None]:
    """`value` as stored for `question`, or the problem with it (None when fine)."""
    if question.kind == QuestionKind.TEXT:
        if not isinstance(value, str):
            return None, NOT_TEXT_MESSAGE
        value = value.strip()
        limit = question.max_length or TEXT_ANSWER_LIMIT
        if len(value) > limit:
            return None, TOO_LONG_MESSAGE.format(max_length=limit)
        if not value and question.required:
            return None, ANSWER_REQUIRED_MESSAGE
        return value, None
    if question.kind == QuestionKind.BOOLEAN:
        if not isinstance(value, bool):
            return None, NOT_BOOLEAN_MESSAGE
        return value, None
    if question.kind == QuestionKind.CHOICE:
        if not isinstance(value, str) or value not in question.choices:
            return None, UNKNOWN_CHOICE_MESSAGE.format(value=value)
        return value, None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return None, NOT_A_LIST_MESSAGE
    for item in value:
        if item not in question.choices:
            return None, UNKNOWN_CHOICE_MESSAGE.format(value=item)
    if not value and question.required:
        return None, ANSWER_REQUIRED_MESSAGE
    # Each choice once, in the question's order.
    return [choice for choice in question.choices if choice in value], None


def check_answers(questions: list[Question], answers: Any) -> dict[str, Any]:
    """`answers` ({question id: value}) as stored, checked against `questions`; raises a
    ValidationError naming each offending question id (an unknown id, a missing required
    answer, a wrong kind, an unknown choice, a text too long)."""
    if not isinstance(answers, dict):
        raise serializers.ValidationError(NOT_AN_OBJECT_MESSAGE)
    by_id = {str(question.pk): question for question in questions}
    errors: dict[str, list[str]] = {}
    stored: dict[str, Any] = {}
    for key, value in answers.items():
        question = by_id.get(str(key))
        if question is None:
            errors[str(key)] = [UNKNOWN_QUESTION_MESSAGE]
            continue
        if value is None:
            if question.required:
                errors[str(key)] = [ANSWER_REQUIRED_MESSAGE]
            continue
        clean, problem = check_answer(question, value)
        if problem is not None:
            errors[str(key)] = [problem]
        else:
            stored[str(key)] = clean
    for key, question in by_id.items():
        if question.required and key not in answers and key not in errors:
            errors[key] = [ANSWER_REQUIRED_MESSAGE]
    if errors:
        raise serializers.ValidationError(errors)
    return stored
