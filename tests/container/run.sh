#!/usr/bin/env bash
# Container test (`make container-test`): build the real Dockerfile with podman where no Docker
# engine runs, run `xscale reproduce --quick` in the image, and check its results against the
# same command run outside the container from the same lock. Exits non-zero on any difference.
#
#  1. base: Debian bookworm made with debootstrap (python3 + venv + CA certificates), imported
#     with `podman import` and passed as BASE_IMAGE by digest: a stand-in for the pinned
#     python:3.11-slim-bookworm base, which cannot be pulled here. Cached as a tarball.
#  2. context: the checkout's tracked and untracked-but-not-ignored files, plus decoy ADNI
#     files that .dockerignore must keep out of the image (checked after the build).
#  3. `podman build --isolation=chroot` of ./Dockerfile, with the host CA bundle and the local
#     wheel directory mounted for pip (through a build-only pip.conf).
#  4. image checks: entrypoint, default command, non-root user, OCI labels, no ADNI decoys.
#  5. `xscale reproduce --quick` in the image (/out mounted) and, at the same time, outside it
#     in a venv installed from the same requirements/lock.txt (cached per lock);
#  6. tests/container/compare.py: every run's fitted predictions, latents and training history
#     and results.md must be byte-identical, and the results.json numbers equal within 1e-12
#     (same wheels, same seed, one thread each; see compare.py for why not exactly 0).
#
# Needs root (or a working rootless podman), podman, buildah and debootstrap
# (Debian: apt-get install podman buildah debootstrap), Python 3.11, access to PyPI and, on the
# first run, a Debian mirror. Environment:
#   XSCALE_CONTAINER_CACHE  cache directory (default ~/.cache/xscale-container)
#   XSCALE_WHEELS           wheel directory for pip, e.g. with the CPU torch wheel (default
#                           /opt/wheels when present; otherwise torch comes from PyTorch's index)
#   XSCALE_CA_BUNDLE        CA bundle for pip in the build (default /etc/ssl/certs/ca-certificates.crt)
#   XSCALE_DEBIAN_MIRROR    default http://deb.debian.org/debian
#   XSCALE_TOL              tolerance for results.json numbers (default 1e-12; see compare.py)
#   XSCALE_KEEP=1           keep the work directory (context, outputs, logs)
set -euo pipefail

ROOT=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
CACHE=${XSCALE_CONTAINER_CACHE:-$HOME/.cache/xscale-container}
WHEELS=${XSCALE_WHEELS:-$([ -d /opt/wheels ] && echo /opt/wheels || true)}
CA_BUNDLE=${XSCALE_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
MIRROR=${XSCALE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
IMAGE=localhost/xscale-container-test:latest
BASE_TAG=localhost/xscale-standin-base:bookworm
BASE_PACKAGES=python3,python3-venv,ca-certificates
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1   # as in the image: one thread, the same numbers anywhere

for tool in podman buildah debootstrap python3; do
  command -v "$tool" >/dev/null || { echo "container-test: '$tool' not found (Debian: apt-get install podman buildah debootstrap)" >&2; exit 2; }
done
python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
  || { echo "container-test: python3 is $(python3 -V 2>&1); the lock's wheels need Python 3.11 for the host run" >&2; exit 2; }
[ -r "$CA_BUNDLE" ] || { echo "container-test: CA bundle $CA_BUNDLE not readable (set XSCALE_CA_BUNDLE)" >&2; exit 2; }

mkdir -p "$CACHE"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/xscale-container.XXXXXX")
cleanup() { if [ "${XSCALE_KEEP:-0}" = 1 ]; then echo "work directory kept: $WORK"; else rm -rf "$WORK"; fi; }
trap cleanup EXIT

T0=$SECONDS
STEP_T=$SECONDS
step() {  # step NAME: print the time the previous step took, then start NAME
  [ -n "${STEP:-}" ] && printf '%-34s %4d s\n' "$STEP" $((SECONDS - STEP_T)) | tee -a "$WORK/timings.txt"
  STEP=$1; STEP_T=$SECONDS
  [ -n "$1" ] && echo "== $1"
  return 0
}

# 1. Stand-in base image --------------------------------------------------------------------
step "base image (debootstrap, cached)"
BASE_TAR="$CACHE/bookworm-$(echo "$BASE_PACKAGES" | tr , -).tar"
if [ ! -s "$BASE_TAR" ]; then
  debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log" >&2; exit 1; }
  rm -rf "$WORK"/rootfs/var/cache/apt/*.bin "$WORK"/rootfs/var/cache/apt/archives/*.deb "$WORK"/rootfs/var/lib/apt/lists/*
  tar --numeric-owner -C "$WORK/rootfs" -cf "$BASE_TAR.tmp" . && mv "$BASE_TAR.tmp" "$BASE_TAR"
  rm -rf "$WORK/rootfs"
fi
if ! podman image exists "$BASE_TAG"; then
  # what the official python image sets and the Dockerfile relies on: python3 on PATH, UTF-8
  podman import --quiet --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' "$BASE_TAR" "$BASE_TAG" >/dev/null
fi
BASE_REF="$BASE_TAG@$(podman image inspect --format '{{.Digest}}' "$BASE_TAG")"
echo "base: $BASE_REF"

# 2. Build context with decoy restricted files ----------------------------------------------
step "build context"
mkdir "$WORK/context"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard \
   | tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -C "$WORK/context" -xf -
DECOYS=(adni/ADNIMERGE.csv ADNI/UCSFFSX51.csv data/restricted/subjects.csv data/adni/UCSFFSX6_decoy.csv
        data/adni/thickness_visit1.csv results/adni/ADNIMERGE_copy.csv)
for f in "${DECOYS[@]}"; do mkdir -p "$WORK/context/$(dirname "$f")"; echo "RID,decoy" >"$WORK/context/$f"; done

# 3. Build ----------------------------------------------------------------------------------
step "podman build"
printf '[global]\ncert = /run/xscale-build/ca.crt\n' >"$WORK/pip.conf"
MOUNTS=(--volume "$WORK/pip.conf:/run/xscale-build/pip.conf:ro" --volume "$CA_BUNDLE:/run/xscale-build/ca.crt:ro")
TORCH_INDEX=()
if [ -n "$WHEELS" ]; then
  printf 'find-links = /run/xscale-build/wheels\n' >>"$WORK/pip.conf"
  MOUNTS+=(--volume "$WHEELS:/run/xscale-build/wheels:ro")
  TORCH_INDEX=(--build-arg PIP_EXTRA_INDEX_URL=)  # the wheel directory has torch; no other index
fi
REVISION=$(git -C "$ROOT" rev-parse HEAD)
VERSION=$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' "$ROOT/pyproject.toml")
SOURCE_URL=$(git -C "$ROOT" remote get-url origin 2>/dev/null || echo "file://$ROOT")
OLD_IMAGE=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
nice podman build --isolation=chroot --layers -f "$WORK/context/Dockerfile" -t "$IMAGE" \
  --build-arg BASE_IMAGE="$BASE_REF" --build-arg PIP_CONFIG_FILE=/run/xscale-build/pip.conf \
  --build-arg REVISION="$REVISION" --build-arg VERSION="$VERSION" --build-arg SOURCE_URL="$SOURCE_URL" \
  "${TORCH_INDEX[@]}" "${MOUNTS[@]}" "$WORK/context" >"$WORK/build.log" 2>&1 \
  || { tail -40 "$WORK/build.log" >&2; echo "container-test: podman build failed (log above)" >&2; exit 1; }
grep -E "all [0-9]+ files verified" "$WORK/build.log" || { echo "container-test: no 'xscale data verify' in the build log" >&2; exit 1; }
if [ -n "$OLD_IMAGE" ] && [ "$OLD_IMAGE" != "$(podman image inspect --format '{{.Id}}' "$IMAGE")" ]; then
  podman rmi "$OLD_IMAGE" >/dev/null 2>&1 || true   # the previous run's image and its no longer used layers
fi

# 4. Image configuration and contents -------------------------------------------------------
step "image checks"
fail() { echo "container-test: $*" >&2; exit 1; }
inspect() { podman image inspect --format "$1" "$IMAGE"; }
[ "$(inspect '{{json .Config.Entrypoint}}')" = '["xscale"]' ] || fail "entrypoint is $(inspect '{{json .Config.Entrypoint}}'), expected [\"xscale\"]"
[ "$(inspect '{{index .Config.Cmd 0}}')" = reproduce ] || fail "default command is $(inspect '{{json .Config.Cmd}}'), expected reproduce"
USER_ID=$(inspect '{{.Config.User}}')
case "$USER_ID" in ""|0|0:*|root|root:*) fail "image runs as root (User='$USER_ID')";; esac
for label in source revision version licenses; do
  [ -n "$(inspect "{{index .Labels \"org.opencontainers.image.$label\"}}")" ] || fail "OCI label org.opencontainers.image.$label missing"
done
[ "$(inspect '{{index .Labels "org.opencontainers.image.revision"}}')" = "$REVISION" ] || fail "revision label is not $REVISION"
CTR=$(buildah from --pull=never "$IMAGE")
trap 'buildah rm "$CTR" >/dev/null 2>&1 || true; cleanup' EXIT
MNT=$(buildah mount "$CTR")
LEAKED=$(find "$MNT" -xdev \( -iname '*ADNIMERGE*' -o -iname '*UCSFFS*' -o -path "$MNT/opt/xscale/data/restricted" \
         -o -path "$MNT/opt/xscale/data/adni/*" -o -name thickness_visit1.csv \) ! -name ucsffs_st_ta_to_dk68.csv -print)
[ -z "$LEAKED" ] || fail "restricted-data decoys reached the image: ${LEAKED//$MNT/}"
buildah umount "$CTR" >/dev/null
echo "entrypoint, command, user $USER_ID, OCI labels, no ADNI decoys: ok"

# 5. The same command in the image and on the host, side by side (one thread each) ----------
step "host venv (cached per lock)"
VENV="$CACHE/host-venv-$(sha256sum "$ROOT/requirements/lock.txt" | cut -c1-16)"
if [ ! -e "$VENV/.complete" ]; then   # the third-party packages, from the same lock as the image
  rm -rf "$VENV" && python3 -m venv "$VENV"
  "$VENV/bin/pip" install --require-hashes --no-deps --only-binary=:all: ${WHEELS:+--find-links "$WHEELS"} \
    -r "$ROOT/requirements/lock.txt" >"$WORK/host-venv.log" 2>&1 || { tail -20 "$WORK/host-venv.log" >&2; fail "host venv install failed"; }
  touch "$VENV/.complete"
fi
for f in "${DECOYS[@]}"; do rm -f "$WORK/context/$f"; done   # the host gets the tree the image got
(cd "$WORK/context" && "$VENV/bin/pip" install --quiet --force-reinstall --no-deps --no-build-isolation --no-index \
   . ./plugins/xscale-gnn ./plugins/xscale-pyro ./plugins/xscale-baselines >"$WORK/host-install.log" 2>&1) \
  || { tail -20 "$WORK/host-install.log" >&2; fail "installing xscale into the host venv failed"; }

step "xscale reproduce --quick (image | host)"
mkdir -m 0777 "$WORK/out-container"
REPRO=(reproduce --quick)
timed() {  # timed NAME LOG COMMAND...: run COMMAND, logging to LOG; record its duration
  local t=$SECONDS rc=0
  "${@:3}" >"$2" 2>&1 || rc=$?
  printf '  %-32s %4d s (rc %d)\n' "$1" $((SECONDS - t)) "$rc" | tee -a "$WORK/timings.txt"
  return "$rc"
}
RUN_AS=54321:54321   # an arbitrary uid, as README's `docker run --user "$(id -u):$(id -g)"`: no passwd entry, no home
if podman run --rm --network=none "$IMAGE" --version >/dev/null 2>&1; then
  RUNNER=(podman run --rm --network=none --user "$RUN_AS" -v "$WORK/out-container:/out" "$IMAGE")
else  # no usable OCI runtime (here crun's setrlimit is refused): the image's entrypoint via buildah
  RUNNER=(buildah run --isolation chroot --user "$RUN_AS" -v "$WORK/out-container:/out" "$CTR" -- xscale)
fi
echo "image run: ${RUNNER[*]:0:3}"
timed image "$WORK/container.log" nice "${RUNNER[@]}" "${REPRO[@]}" --out /out/reproduce & IMAGE_PID=$!
(cd "$WORK" && XSCALE_ROOT="$WORK/context" timed host "$WORK/host.log" nice "$VENV/bin/xscale" "${REPRO[@]}" \
   --out "$WORK/out-host/reproduce") & HOST_PID=$!
wait "$IMAGE_PID" || { tail -30 "$WORK/container.log" >&2; fail "xscale reproduce failed in the image"; }
wait "$HOST_PID" || { tail -30 "$WORK/host.log" >&2; fail "xscale reproduce failed on the host"; }

# 6. Compare --------------------------------------------------------------------------------
step "compare"
sed -n '/xscale reproduce: in-sample/,/^results:/p' "$WORK/container.log"
python3 "$ROOT/tests/container/compare.py" --tol "${XSCALE_TOL:-1e-12}" \
  "$WORK/out-host/reproduce" "$WORK/out-container/reproduce" | tee "$WORK/compare.txt"
STATUS=${PIPESTATUS[0]}
step ""
printf '%-34s %4d s\n' "total" $((SECONDS - T0)) | tee -a "$WORK/timings.txt"
[ "$STATUS" = 0 ] && echo "container-test: PASSED" || echo "container-test: FAILED (outputs differ)"
exit "$STATUS"
