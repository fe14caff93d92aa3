"""gunicorn settings, read automatically when gunicorn starts in this directory.

Threaded workers keep client connections alive between requests and overlap one request's
database wait with another's Python work; each thread keeps its own database connection.
Every value can be overridden on the command line or through GUNICORN_* variables.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
wsgi_app = "event_management_system.wsgi"

# gunicorn believes X-Forwarded-Proto from a proxy on this host by default; like the app, it
# believes it only when DJANGO_TRUSTED_PROXIES says proxies stand in front.
behind_proxies = os.environ.get("DJANGO_TRUSTED_PROXIES", "").strip() not in {"", "0"}
forwarded_allow_ips = os.environ.get(
    "FORWARDED_ALLOW_IPS", "127.0.0.1,::1" if behind_proxies else ""
)
