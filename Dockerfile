# The hub alone (`hub serve`), for production. Build: docker build -t hub .
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HUB_ENV=production \
    HUB_DATABASE_URL=sqlite+aiosqlite:////data/hub.db \
    HUB_SIGNING_KEY_FILE=/data/signing-key.pem

RUN groupadd --system --gid 10001 hub \
    && useradd --system --uid 10001 --gid hub --home-dir /app hub \
    && mkdir -p /app /data && chown hub:hub /data

WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY hub ./hub
COPY connectors ./connectors
COPY schemas ./schemas
RUN pip install --no-cache-dir .

USER 10001:10001
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]

CMD ["hub", "serve", "--host", "0.0.0.0", "--port", "8000"]
