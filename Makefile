# Two commands for a fresh machine with python3, pip and make:
#   make run   - set up, migrate, load the sample data into an empty database, serve on :8000
#                with the email worker alongside
#   make test  - set up, then run the whole suite (SQLite, or DATABASE_URL's database)
#   make bench - load each endpoint through gunicorn with wrk (BENCH_DB=postgres|sqlite)
#   make cluster / make cluster-stop - nginx, 3 gunicorn instances, PgBouncer and Redis on
#     127.0.0.1 (deploy/cluster.py; CLUSTER_* variables), the production shape on one machine
#   make scaling - measure 1 instance against 3 behind nginx, with and without PgBouncer
# and `make superuser` to create the first staff login for /admin/ (it asks for name and password,
# or takes them from DJANGO_SUPERUSER_USERNAME, DJANGO_SUPERUSER_EMAIL and DJANGO_SUPERUSER_PASSWORD),
# `make worker` to run the email worker alone (production: next to gunicorn), and
# `make docs` to serve the documentation site on 127.0.0.1:$(DOCS_PORT) (8001 unless given), `make docs-build`
# to build it into site/ strictly (a broken link or anchor fails),
# `make docs-config` to regenerate docs/operations/configuration.md and .env.example from the
# settings' list, and `make vendor` to copy the door page's QR reader (jsQR, npm) into
# core/static/door/vendor/.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
DOCS_PORT ?= 8001

BENCH_DB ?= postgres
BENCH_SECONDS ?= 8
# The mixed read-while-writing case needs a large catalogue to mean anything.
BENCH_EVENTS ?= 300000

.PHONY: install migrate run worker superuser test lint format docs docs-build docs-config vendor bench cluster cluster-stop scaling

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed

migrate: install
	$(PY) manage.py migrate --noinput

# The worker sends the queued emails (to the console, without DJANGO_EMAIL_HOST); it stops
# when the server does.
run: migrate
	$(PY) manage.py load_sample_data --if-empty
	$(PY) manage.py send_emails & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	$(PY) manage.py runserver $(HOST):$(PORT)

worker: migrate
	$(PY) manage.py send_emails

# With DJANGO_SUPERUSER_USERNAME set (and _EMAIL, _PASSWORD), it asks nothing.
superuser: migrate
	$(PY) manage.py createsuperuser $(if $(DJANGO_SUPERUSER_USERNAME),--noinput)

test: install
	$(VENV)/bin/pytest

# The configuration reference and .env.example, from event_management_system/config.py.
docs-config: install
	$(PY) -m event_management_system.config reference > docs/operations/configuration.md
	$(PY) -m event_management_system.config env-example > .env.example

# The site: Material's own assets only, nothing fetched from the internet. The reference pages
# are written from the API when it is built (mkdocs_hooks.py).
docs: install
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve --dev-addr $(HOST):$(DOCS_PORT)

docs-build: install
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict
# The vendored copy is committed: nothing is fetched when the page runs, nor when the app starts.
vendor:
	npm ci --no-audit --no-fund
	cp node_modules/jsqr/dist/jsQR.js core/static/door/vendor/jsQR.js
	cp node_modules/jsqr/LICENSE core/static/door/vendor/jsQR.LICENSE

bench: install
	BENCH_EVENTS=$(BENCH_EVENTS) bash bench/run $(BENCH_DB) $(BENCH_SECONDS)

cluster: install
	$(PY) -m deploy.cluster start

cluster-stop: install
	$(PY) -m deploy.cluster stop

scaling: install
	$(PY) -m deploy.measure $(BENCH_SECONDS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .
