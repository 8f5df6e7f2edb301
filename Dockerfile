# Minimal image for xscale (a later issue pins the base by digest and locks every dependency).
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}
WORKDIR /opt/xscale
COPY . .
RUN pip install --no-cache-dir "setuptools<81" torch==2.13.0 \
 && pip install --no-cache-dir -e . -e plugins/xscale-gnn -e plugins/xscale-pyro -e plugins/xscale-baselines \
 && xscale data verify
ENTRYPOINT ["xscale"]
CMD ["reproduce", "--out", "/out/reproduce", "--overwrite"]
