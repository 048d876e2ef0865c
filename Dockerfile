# syntax=docker/dockerfile:1
# loopkeeper: the bot's container image. Build from the repository root:
#   docker build -t loopkeeper .
# Configuration comes from the environment (see deploy/compose/.env.example) and a routing
# file mounted at /config/routing.yaml. The SQLite default lives on the /data volume; set
# LOOPKEEPER_DATABASE_URL to a postgresql+asyncpg:// URL to run more than one replica.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- builder: a self-contained venv with loopkeeper, the postgres extra (asyncpg) and the themes
# extra (wordllama, whose model ships inside its wheel, and scipy) ---
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
WORKDIR /src
# Only what the package build reads: no tests, no deploy files, no local databases.
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
COPY digests ./digests
# A regular (non-editable) install: the final stage gets the venv and not /src.
RUN /opt/venv/bin/pip install ".[themes,postgres]"

# --- final: the venv and a non-root user; no compilers, no pip cache, no sources ---
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="loopkeeper" \
      org.opencontainers.image.description="Flag bad AI outputs in Slack and Teams, route them to their owners" \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed uid/gid so Kubernetes runAsNonRoot and volume ownership can be checked numerically.
RUN groupadd --system --gid 10001 loopkeeper \
    && useradd --system --no-log-init --uid 10001 --gid loopkeeper \
       --home-dir /data --shell /usr/sbin/nologin loopkeeper \
    && mkdir -p /data /config \
    && chown loopkeeper:loopkeeper /data
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    LOOPKEEPER_ENV=production \
    LOOPKEEPER_HOST=0.0.0.0 \
    LOOPKEEPER_PORT=3000 \
    LOOPKEEPER_CONFIG=/config/routing.yaml \
    LOOPKEEPER_DATABASE_URL=sqlite+aiosqlite:////data/loopkeeper.db
# /data holds the SQLite file (unused with PostgreSQL); it is also the working directory, so
# a `.env` file mounted there is read as well.
VOLUME ["/data"]
WORKDIR /data
USER 10001:10001
EXPOSE 3000
# No curl in slim images: the interpreter that runs the bot checks it. urlopen raises (exit 1)
# on a refused connection, a timeout or a non-2xx answer; the hook makes that one line in
# `docker inspect` instead of a traceback.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; sys.excepthook = lambda kind, error, tb: print('unhealthy:', error, file=sys.stderr); urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('LOOPKEEPER_PORT', '3000'), timeout=4)"]
# `serve` applies migrations before it listens; `docker run IMAGE db upgrade` (or any other
# loopkeeper command) replaces the default arguments.
ENTRYPOINT ["loopkeeper"]
CMD ["serve", "--host", "0.0.0.0"]
