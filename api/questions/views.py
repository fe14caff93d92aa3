"""An event's questions: anyone reads them (registrants answer them), its owner and staff add,
change and remove them. Every rule is core.services'."""

from rest_framework import mixins, status, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from api.permissions import IsEventOwnerOrStaff
from api.questions.schema import question_viewset_schema
from api.questions.serializers import QuestionSerializer
from core.exceptions import EventNotFound, QuestionNotFound
from core.models import Event, Question
from core.services import delete_question, save_question


@question_viewset_schema
class QuestionViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """An event's questions in their order; the owner and staff write them."""

    serializer_class = QuestionSerializer
    lookup_value_regex = r"[0-9]+"

    def get_permissions(self):
        if self.action == "list":
            return [AllowAny()]
        return [IsEventOwnerOrStaff()]

    @property
    def throttle_scope(self) -> str | None:
        return None if self.action == "list" else "organise"

    def get_event(self) -> Event:
        """The event the address names, once the caller may act on it."""
        event = Event.objects.only("owner_id").filter(pk=int(self.kwargs["event_id"])).first()
        if event is None:
            raise EventNotFound
        self.check_object_permissions(self.request, event)
        return event

    def get_queryset(self):
        return Question.objects.filter(event_id=int(self.kwargs["event_id"])).order_by(
            "position", "id"
        )

    def list(self, request, *args, **kwargs):
        self.get_event()
        return super().list(request, *args, **kwargs)

    def create(self, request, *args, **kwargs):
        event = self.get_event()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        question = save_question(event_id=event.pk, **serializer.validated_data)
        return Response(self.get_serializer(question).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        event = self.get_event()
        question = self.get_queryset().filter(pk=int(kwargs["pk"])).first()
        if question is None:
            raise QuestionNotFound
        serializer = self.get_serializer(question, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        question = save_question(
            event_id=event.pk, question_id=question.pk, **serializer.validated_data
        )
        return Response(self.get_serializer(question).data)

    def destroy(self, request, *args, **kwargs):
        event = self.get_event()
        delete_question(event_id=event.pk, question_id=int(kwargs["pk"]))
        return Response(status=status.HTTP_204_NO_CONTENT)
