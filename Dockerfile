# A slim image: the service and its dependencies (pinned, with hashes, by requirements.txt)
# in a virtualenv built in a first stage, copied into a clean python:slim. It migrates on
# start, then serves; every setting comes from CORESPOND_* variables (docs/configuration.md).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md requirements.txt ./
COPY models models
COPY dispatch dispatch
COPY service service
COPY migrations migrations
RUN python -m venv /opt/corespond \
 && /opt/corespond/bin/pip install --no-cache-dir --require-hashes -r requirements.txt \
 && /opt/corespond/bin/pip install --no-cache-dir --no-deps .

FROM python:3.11-slim
COPY --from=build /opt/corespond /opt/corespond
RUN useradd --create-home corespond && mkdir /data && chown corespond /data
USER corespond
WORKDIR /data
ENV PATH=/opt/corespond/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    CORESPOND_HOST=0.0.0.0 \
    CORESPOND_PORT=8000 \
    CORESPOND_DATABASE_URL=sqlite:////data/corespond.db
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
    CMD python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/readyz', timeout=2)"
CMD ["corespond", "serve"]
