# newsdesk on CPU: the Discord bot (or any `newsdesk` command) with the bundled all-MiniLM-L6-v2 model and its
# int8 build baked in, running as a non-root user. The index lives in the /data volume, the articles in /corpus.
#
#   docker build -t newsdesk .
#   docker run -d --name newsdesk --env-file .env -v newsdesk-data:/data -v "$PWD/corpus:/corpus" newsdesk
#   docker exec newsdesk newsdesk ask "what did Pompeo say on April 7?"
#
# Needs the internet at build time only (PyPI and PyTorch's CPU wheel index); nothing is downloaded at run time.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    NEWSDESK_CORPUS=/corpus \
    NEWSDESK_DATA=/data \
    NEWSDESK_MODEL_CACHE=/opt/newsdesk/models

# torch first, from PyTorch's CPU index: the torch wheel on PyPI pulls several GB of CUDA libraries. The
# project's own `torch==2.13.0` pin is then already met (2.13.0+cpu).
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

WORKDIR /opt/newsdesk/src
COPY pyproject.toml README.md LICENSE ./
COPY index ./index
COPY bot ./bot
# The int8 ONNX build of the bundled model goes into NEWSDESK_MODEL_CACHE, outside the data volume, so a new
# data folder never waits for it (export-int8 writes it there and a copy under root's ~/.cache, dropped here).
RUN pip install . \
 && newsdesk export-int8 \
 && rm -rf /root/.cache \
 && useradd --system --uid 10001 --user-group --create-home --home-dir /home/newsdesk newsdesk \
 && mkdir -p /data /corpus \
 && chown newsdesk:newsdesk /data /corpus

# A working folder without a .env: settings come from the container's environment (--env-file, compose).
WORKDIR /home/newsdesk
USER newsdesk
VOLUME ["/data", "/corpus"]

# Healthy while the index in /data can be read (a separate, light process: no model is loaded).
HEALTHCHECK --interval=60s --timeout=30s --start-period=120s --retries=3 \
    CMD ["newsdesk", "sources", "--json"]

# Ctrl-C is the bot's clean stop (it closes the Discord session and says "Stopped.").
STOPSIGNAL SIGINT
CMD ["newsdesk", "run"]
