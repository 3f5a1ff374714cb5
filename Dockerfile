# pushsvc: one image for the API, the delivery workers and the feed poller (docker-compose.yml runs them).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY pushsvc ./pushsvc
# A normal (non-editable) install, as CI's wheel smoke test checks (.ci/wheel_smoke.py).
RUN pip install --no-cache-dir . && rm -rf /src
# The volumes' mount points exist in the image and belong to pushsvc, so a fresh named volume mounted
# there starts owned by pushsvc (Docker copies the owner). A bind mount the user cannot write is refused
# with one line naming the path (pushsvc serve / worker / data fetch), never a traceback.
RUN useradd --system --uid 10001 --user-group --home /var/lib/pushsvc pushsvc \
    && mkdir -p /var/lib/pushsvc /keys /data /feeds \
    && chown pushsvc:pushsvc /var/lib/pushsvc /keys /data
USER pushsvc
WORKDIR /var/lib/pushsvc
ENV PUSHSVC_VAPID_KEY_FILE=/keys/vapid.pem \
    PUSHSVC_DATA_DIR=/data \
    PUSHSVC_BOUNDARIES=/data/municipal_boundaries/N03-21_39_210101.json \
    PUSHSVC_JMA_CODES_DIR=/data/samples/jma/codes
VOLUME ["/keys", "/data"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --retries=6 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["pushsvc", "serve", "--host", "0.0.0.0", "--port", "8000"]
