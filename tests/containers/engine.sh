# Sourced by scripts/test-containers: a container engine of our own and the locally made Debian
# base image. No container registry is reachable on the machines this is tested on, so the base
# is made with debootstrap from Debian's mirror and imported; both are cached between runs.
# Variables: ORTHANC_REM_CACHE (default /var/cache/orthanc-rem), DOCKER_HOST (an engine to use
# instead of starting our own).

cache="${ORTHANC_REM_CACHE:-/var/cache/orthanc-rem}"
base_image="orthanc-rem-base:bookworm"
debian_mirror="${ORTHANC_REM_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# Debian's client, not another one earlier in PATH: it must match Debian's dockerd.
docker_bin="/usr/bin/docker"

need_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "orthanc-rem: installing Debian packages: ${missing[*]}"
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${missing[@]}" >/dev/null
  fi
}

# Starts dockerd as root with its own socket, data and state folders, without touching the
# host's firewall or bridges (--iptables=false --bridge=none): containers use host networking.
start_engine() {
  if [[ -n "${DOCKER_HOST:-}" ]] && "$docker_bin" info >/dev/null 2>&1; then
    return 0
  fi
  local run=/run/orthanc-rem-docker
  export DOCKER_HOST="unix://$run/docker.sock"
  if "$docker_bin" info >/dev/null 2>&1; then
    return 0
  fi
  mkdir -p "$run" "$cache/docker"
  echo "orthanc-rem: starting dockerd (socket $DOCKER_HOST, log $run/dockerd.log)"
  setsid dockerd --host "$DOCKER_HOST" --iptables=false --ip6tables=false --bridge=none \
    --data-root "$cache/docker" --exec-root "$run/exec" --pidfile "$run/dockerd.pid" \
    >"$run/dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 60); do
    "$docker_bin" info >/dev/null 2>&1 && return 0
    sleep 1
  done
  echo "orthanc-rem: dockerd did not start; see $run/dockerd.log" >&2
  tail -20 "$run/dockerd.log" >&2
  return 1
}

# The Debian 12 base image: debootstrap once into the cache, import it once into the engine.
ensure_base_image() {
  if "$docker_bin" image inspect "$base_image" >/dev/null 2>&1; then
    return 0
  fi
  local tarball="$cache/bookworm-minbase.tar"
  if [[ ! -s "$tarball" ]]; then
    local rootfs="$cache/bookworm-rootfs"
    rm -rf "$rootfs"
    echo "orthanc-rem: debootstrap bookworm into $rootfs (once; cached in $tarball)"
    debootstrap --variant=minbase bookworm "$rootfs" "$debian_mirror" >"$cache/debootstrap.log" 2>&1 || {
      tail -20 "$cache/debootstrap.log" >&2
      return 1
    }
    # Same sources as a stock Debian image: the main archive, its updates and security fixes.
    cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $debian_mirror bookworm main
deb $debian_mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
    rm -rf "$rootfs"
  fi
  echo "orthanc-rem: importing $tarball as $base_image"
  "$docker_bin" import "$tarball" "$base_image" >/dev/null
}
