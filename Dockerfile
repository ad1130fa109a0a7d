FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY models models
COPY dispatch dispatch
COPY service service
COPY migrations migrations
RUN pip install --no-cache-dir . && useradd --create-home corespond && mkdir /data && chown corespond /data
USER corespond
ENV CORESPOND_HOST=0.0.0.0 CORESPOND_PORT=8000 CORESPOND_DATABASE_URL=sqlite:////data/corespond.db
EXPOSE 8000
CMD ["corespond", "serve"]
