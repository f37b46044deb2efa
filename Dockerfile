# syntax=docker/dockerfile:1
# paybridge: multi-stage build, slim base, non-root, migrations then uvicorn.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
RUN python -m venv /opt/venv
COPY requirements.lock ./
RUN /opt/venv/bin/pip install --require-hashes -r requirements.lock

FROM python:3.11-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PAYBRIDGE_ENV=production \
    PAYBRIDGE_DATABASE_URL=sqlite+aiosqlite:////data/paybridge.db
RUN groupadd --system --gid 10001 paybridge \
 && useradd --system --uid 10001 --gid paybridge --home-dir /app --shell /usr/sbin/nologin paybridge \
 && mkdir -p /data && chown paybridge:paybridge /data
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --chown=paybridge:paybridge app ./app
COPY --chown=paybridge:paybridge migrations ./migrations
COPY --chown=paybridge:paybridge alembic.ini ./
USER paybridge
EXPOSE 8000
VOLUME ["/data"]
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
CMD ["sh", "-c", "python -m app migrate && exec python -m app serve --host 0.0.0.0 --port 8000"]
