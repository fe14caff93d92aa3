"""`Event.requires_answers` is the database's to keep (core/sql/questions.py), whoever writes
the questions."""

import pytest

from core.models import Event, Question

pytestmark = pytest.mark.django_db


def requires_answers(event) -> bool:
    return Event.objects.get(pk=event.pk).requires_answers


def test_any_write_of_a_question_keeps_the_flag(event_factory):
    event, other = event_factory(), event_factory()
    optional = Question.objects.create(event=event, label="Newsletter", kind="boolean")
    assert not requires_answers(event)
    required = Question.objects.create(event=event, label="Diet", kind="text", required=True)
    assert requires_answers(event)
    Question.objects.filter(pk=required.pk).update(required=False)
    assert not requires_answers(event)
    Question.objects.filter(pk=optional.pk).update(required=True)
    assert requires_answers(event)
    # Moved to another event, it takes its requirement along.
    Question.objects.filter(pk=optional.pk).update(event=other)
    assert (requires_answers(event), requires_answers(other)) == (False, True)
    Question.objects.filter(event=other).delete()
    assert not requires_answers(other)


def test_saving_an_event_loaded_earlier_never_writes_the_flag_back(event_factory):
    event = event_factory()
    stale = Event.objects.get(pk=event.pk)
    Question.objects.create(event=event, label="Diet", kind="text", required=True)
    stale.name = "Renamed"
    stale.save()
    assert requires_answers(event)
