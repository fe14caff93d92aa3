"""`python manage.py create_organiser USERNAME [--email EMAIL]`: an organiser and a fresh token.

The token is the last line of standard output, alone, for a script to read; everything else
goes to standard error. It lives in `api`, not `core`, because tokens are knox's, and knox is
built on DRF, which core never imports.
"""

import os

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from api.tokens import issue_token
from core.services import create_organiser

PASSWORD_VARIABLE = "ORGANISER_PASSWORD"


class Command(BaseCommand):
    help = (
        "Create an organiser, or make an existing user one, and print a new bearer token as the "
        f"last line of standard output. A new user's password comes from ${PASSWORD_VARIABLE}; "
        "without it they sign in with tokens only."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", help="the organiser's email address")

    def handle(self, *args, username, email, **options):
        password = os.environ.get(PASSWORD_VARIABLE) or None
        try:
            user, created = create_organiser(username=username, email=email, password=password)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        if created:
            how = "a password" if password else f"no password (${PASSWORD_VARIABLE} is not set)"
            self.log(f"Created organiser {username!r} with {how}.")
        else:
            self.log(f"{username!r} is an organiser; their password is unchanged.")
        issued = issue_token(user=user)
        self.log(
            f"A new token, valid until {issued.expires_at:%Y-%m-%d %H:%M} UTC. It is shown once: "
            "the server keeps only its hash."
        )
        self.stdout.write(issued.token)

    def log(self, message: str) -> None:
        # Standard error is for people: plain, not styled as an error.
        self.stderr.write(message, style_func=self.style.SUCCESS)
