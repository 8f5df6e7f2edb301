# xscale: rerun arXiv 2606.05870 on the embedded open data; see README, section "Container".
#
#   docker build -t xscale .
#   docker run --rm --user "$(id -u):$(id -g)" -v "$PWD/out:/out" xscale
#
# Base image, pinned by digest. The default is the official python:3.11.7-slim-bookworm image for
# linux/amd64 at the digest recorded in github.com/nalabelle/build, images/digests.Dockerfile
# (commit 03299f1e1a7a96a34e2d8cc954532d742572ded4). It could not be pulled or re-checked on the
# machines this file was written on (no registry but PyPI is reachable there); verify with
# `docker buildx imagetools inspect` before relying on it. Any other base works when it has a
# Python 3.11 with the venv module: pass BASE_IMAGE (by digest) and, where the interpreter is
# not `python3` on PATH, PYTHON, e.g. for a CUDA base:
#   --build-arg BASE_IMAGE=<cuda image>@sha256:<digest> --build-arg PYTHON=/usr/bin/python3.11
# (with a CUDA torch wheel: regenerate requirements/lock.txt against the CUDA index first).
# tests/container/run.sh builds this file on a debootstrapped Debian bookworm stand-in.
ARG BASE_IMAGE=docker.io/library/python:3.11.7-slim-bookworm@sha256:8f64a67710f3d981cf3008d6f9f1dbe61accd7927f165f4e37ea3f8b883ccc3f
FROM ${BASE_IMAGE}

ARG BASE_IMAGE
ARG PYTHON=python3
# The lock pins torch==2.13.0+cpu, served by PyTorch's CPU index; every downloaded file, from
# whichever index, must match a sha256 in requirements/lock.txt or the build fails.
ARG PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu
# Build-time pip settings only (a mirror, a wheel directory mounted with `podman build
# --volume`, a CA bundle): a pip.conf path. /dev/null means "no configuration file".
ARG PIP_CONFIG_FILE=/dev/null

ENV PATH=/opt/venv/bin:$PATH \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    XSCALE_ROOT=/opt/xscale \
    MPLCONFIGDIR=/tmp/matplotlib \
    OMP_NUM_THREADS=1 \
    MKL_NUM_THREADS=1

# Every third-party package, hash-checked, before the source so that code edits reuse this layer.
COPY requirements/lock.txt /opt/xscale/requirements/lock.txt
RUN "${PYTHON}" -m venv /opt/venv \
 && pip install --require-hashes --no-deps --only-binary=:all: -r /opt/xscale/requirements/lock.txt

# xscale and its three plugins (non-editable, nothing else fetched), then the embedded data,
# verified against data_manifest.json. Restricted ADNI files never enter the build context
# (.dockerignore); they are mounted read-only at run time.
COPY pyproject.toml README.md LICENSE data_manifest.json /opt/xscale/
COPY xscale /opt/xscale/xscale
COPY plugins /opt/xscale/plugins
COPY data /opt/xscale/data
COPY paper /opt/xscale/paper
WORKDIR /opt/xscale
# OCI labels (below): pass the checkout's URL and commit (README, section "Container"). Declared
# after the dependency layer, so that a new commit reuses it, and before the install step, so
# that builders which cache LABEL by its unexpanded text (buildah) still relabel a new commit.
ARG VERSION=0.3.7
ARG REVISION=unknown
ARG SOURCE_URL=unknown
RUN pip install --no-deps --no-build-isolation --no-index \
        . ./plugins/xscale-gnn ./plugins/xscale-pyro ./plugins/xscale-baselines \
 && pip check \
 && rm -rf build ./*.egg-info plugins/*/build plugins/*/src/*.egg-info \
 && xscale data verify \
 && useradd --no-log-init --system --uid 10001 --user-group --home-dir /home/xscale --create-home xscale \
 && install -d -o xscale -g xscale /out

LABEL org.opencontainers.image.title="xscale" \
      org.opencontainers.image.description="Reproduction of arXiv 2606.05870 (AHBA landmark genes -> cortical thinning maps) with blocked-CV evaluation" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="BSD-3-Clause" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"

USER 10001:10001
WORKDIR /out
ENTRYPOINT ["xscale"]
CMD ["reproduce", "--out", "/out/reproduce", "--overwrite"]
