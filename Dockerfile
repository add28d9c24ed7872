# One image for web (gunicorn), worker and beat. Runtime requirements only (tests, lint and
# benchmarks are in requirements-dev.txt and never reach the image).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DEBUG=False
WORKDIR /app

COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
# Static files are collected into the image (DEBUG=False serves only collected, hashed files);
# var/exports is where the worker writes export files for the web service (a shared volume).
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput \
    && mkdir -p /app/var/exports \
    && useradd --system --home /app clinic && chown -R clinic /app/var
USER clinic

EXPOSE 8000
CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py", "clinic.wsgi:application"]
