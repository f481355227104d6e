#!/usr/bin/env bash
# A local stand-in for the Dockerfile's base image (python:3.11.7-slim-bookworm), for hosts that reach
# a Debian mirror but no container registry: debootstrap a minimal Debian with its Python 3.11, venv
# and git, then import the folder as an image. Build with it through the Dockerfile's BASE_IMAGE arg:
#
#   sudo bash scripts/base_image.sh                      # -> localhost/debian-python:3.11-bookworm
#   podman build --build-arg BASE_IMAGE=localhost/debian-python:3.11-bookworm --build-arg WHEELHOUSE=wheelhouse .
#
# The image is Debian's Python (bookworm: 3.11.2), not python.org's 3.11.7 of the official image: the
# same minor version, which is what requirements.lock (cp311 wheels) needs. Like the official image it
# answers to `python` and `python3`, has `venv` and `ensurepip`, LANG=C.UTF-8; unlike it, it also has
# git (the Dockerfile installs git only where it is missing, so a build needs no apt mirror).
#
# Options (or the environment variables in brackets):
#   --tag TAG        image name [BASE_TAG]        default localhost/debian-python:3.11-bookworm
#   --suite NAME     Debian release [SUITE]       default bookworm (its python3 is 3.11)
#   --mirror URL     Debian mirror [MIRROR]       default http://deb.debian.org/debian; a snapshot URL
#                    (http://snapshot.debian.org/archive/debian/<time>Z) pins every package
#   --security URL   security mirror [SECURITY]   default http://deb.debian.org/debian-security;
#                    "none": no security updates (e.g. with a snapshot --mirror)
#   --rootfs DIR     where to build the tree [ROOTFS]  default a fresh folder under ${TMPDIR:-/tmp};
#                    must be empty or absent; removed afterwards unless --keep-rootfs
#   --engine NAME    podman or docker [ENGINE]    default podman if installed, else docker
# Needs root (debootstrap, chroot) and debootstrap itself (apt-get install debootstrap).
set -euo pipefail

TAG=${BASE_TAG:-localhost/debian-python:3.11-bookworm}
SUITE=${SUITE:-bookworm}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY=${SECURITY:-http://deb.debian.org/debian-security}
ROOTFS=${ROOTFS:-}
KEEP=0
ENGINE=${ENGINE:-}

die() { echo "base_image: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) TAG=${2:?--tag needs a value}; shift 2 ;;
    --suite) SUITE=${2:?--suite needs a value}; shift 2 ;;
    --mirror) MIRROR=${2:?--mirror needs a value}; shift 2 ;;
    --security) SECURITY=${2:?--security needs a value}; shift 2 ;;
    --rootfs) ROOTFS=${2:?--rootfs needs a value}; shift 2 ;;
    --keep-rootfs) KEEP=1; shift ;;
    --engine) ENGINE=${2:?--engine needs a value}; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

[ "$(id -u)" = 0 ] || die "needs root (debootstrap and chroot)"
command -v debootstrap >/dev/null || die "debootstrap not found: apt-get install debootstrap"
if [ -z "$ENGINE" ]; then
  if command -v podman >/dev/null; then ENGINE=podman; elif command -v docker >/dev/null; then ENGINE=docker
  else die "neither podman nor docker found (or set ENGINE)"; fi
fi
command -v "$ENGINE" >/dev/null || die "engine $ENGINE not found"

if [ -z "$ROOTFS" ]; then
  ROOTFS=$(mktemp -d "${TMPDIR:-/tmp}/base-rootfs.XXXXXX")
elif [ -e "$ROOTFS" ] && [ -n "$(ls -A "$ROOTFS")" ]; then
  die "$ROOTFS is not empty: pass a new folder with --rootfs"
fi
cleanup() {
  for m in proc dev/pts dev sys; do mountpoint -q "$ROOTFS/$m" 2>/dev/null && umount -l "$ROOTFS/$m"; done
  if [ "$KEEP" = 0 ]; then rm -rf --one-file-system "$ROOTFS"; fi
}
trap cleanup EXIT

start=$(date +%s)
echo "base_image: debootstrap $SUITE from $MIRROR into $ROOTFS ..."
# minbase: essential + apt only. python3-venv brings ensurepip (pip for a new venv), as the official
# image has; ca-certificates so pip and git can verify TLS; git for DVC and the run's commit tag.
debootstrap --variant=minbase --include=python3,python3-venv,git,ca-certificates \
  "$SUITE" "$ROOTFS" "$MIRROR" >"$ROOTFS.debootstrap.log" 2>&1 \
  || { tail -n 20 "$ROOTFS.debootstrap.log" >&2; die "debootstrap failed (log: $ROOTFS.debootstrap.log)"; }
rm -f "$ROOTFS.debootstrap.log"

# The image's own apt sources: the same mirror, its updates, and security updates unless "none".
{
  echo "deb $MIRROR $SUITE main"
  echo "deb $MIRROR $SUITE-updates main"
  [ "$SECURITY" = none ] || echo "deb $SECURITY $SUITE-security main"
} >"$ROOTFS/etc/apt/sources.list"
mount -t proc proc "$ROOTFS/proc"
log=$(mktemp "${TMPDIR:-/tmp}/base-image-apt.XXXXXX")
chroot "$ROOTFS" /bin/sh -ec '
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get upgrade -y -qq >/dev/null
  apt-get clean
  rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt/* /var/log/dpkg.log /tmp/*
  ln -sf /usr/bin/python3 /usr/local/bin/python
' >"$log" 2>&1 || { tail -n 20 "$log" >&2; die "apt-get inside the new tree failed (log: $log)"; }
rm -f "$log"
umount "$ROOTFS/proc"
python=$(chroot "$ROOTFS" python3 -c 'import platform; print(platform.python_version())')
git=$(chroot "$ROOTFS" git --version)

# The official image's environment: LANG, PATH with /usr/local/bin first, python3 as the command.
tar --numeric-owner -C "$ROOTFS" -c . | "$ENGINE" import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["python3"]' \
  --message "debootstrap $SUITE ($MIRROR) + python3 $python, venv, $git" \
  - "$TAG" >/dev/null
size=$("$ENGINE" image inspect --format '{{.Size}}' "$TAG")
echo "base_image: $TAG (Python $python, $git, $((size / 1000000)) MB) in $(( $(date +%s) - start )) s"
