FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY pushsvc ./pushsvc
RUN pip install --no-cache-dir . && useradd --system --home /var/lib/pushsvc pushsvc \
    && mkdir -p /var/lib/pushsvc && chown pushsvc /var/lib/pushsvc
USER pushsvc
WORKDIR /var/lib/pushsvc
EXPOSE 8000
CMD ["pushsvc", "serve", "--host", "0.0.0.0", "--port", "8000"]
