"""gunicorn settings for the web service (docker-compose, production).

    gunicorn -c deploy/gunicorn.conf.py clinic.wsgi:application

Pages answer in tens of milliseconds; everything long (the audit and compliance exports) runs
as a background job, so a request that takes 60 s is stuck, not busy: gunicorn restarts that
worker. Override with the environment variables below."""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30  # a deploy or restart lets requests in flight finish
keepalive = 5  # behind the proxy's reused connections
max_requests = 2000  # recycle workers now and then (bounded memory)
max_requests_jitter = 200
# Only the proxy reaches gunicorn (it is not published): X-Forwarded-Proto decides the scheme.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
# The access log names the path only: %(U)s has no query string, so a patient search ("?q=")
# never reaches a log file.
accesslog = "-"
access_log_format = '%({x-forwarded-for}i)s %(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
