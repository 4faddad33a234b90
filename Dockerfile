# The assetgen image: CLI, worker and (later) API. GPU workers run it with the NVIDIA runtime.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gan ./gan
COPY jobs ./jobs
COPY worker ./worker
COPY migrations ./migrations
COPY default_model ./default_model
COPY models ./models
RUN pip install -e .
RUN useradd --create-home assetgen
USER assetgen
ENTRYPOINT []
CMD ["assetgen", "--help"]
