#!/usr/bin/env bash
# Installs Mesa's software Vulkan driver (lavapipe, `mesa-vulkan-drivers` from the backports suite)
# and the Vulkan loader (`libvulkan1`), so that the webgpu tests run on Dawn's Vulkan backend.
# The backports suite is added from the Debian mirror the machine's apt sources already use
# (deb822 `/etc/apt/sources.list.d/*.sources` or one-line `sources.list` entries); no host is named here.
set -euo pipefail

codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$codename" ] || { echo "install-vulkan: /etc/os-release has no VERSION_CODENAME" >&2; exit 1; }
backports="$codename-backports"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
apt_get() { DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=900 "$@"; }

# The URI of the first source serving the main suite (`$codename`), and its Signed-By keyring if any.
mirror_uri() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v suite="$codename" '
      /^[ \t]*$/ { if (ok && uri != "") { print uri "|" key; done = 1; exit } ok = 0; uri = ""; key = ""; next }
      /^URIs:/ { uri = $2 }
      /^Signed-By:/ { key = $2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
      END { if (!done && ok && uri != "") print uri "|" key }
    ' "$f" | head -n1
  done
  { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true; } |
    awk -v suite="$codename" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { if ($(i + 1) == suite) print $i "|"; break } }'
}

if ! grep -rqs -- "$backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  found=$(mirror_uri | head -n1 || true)
  [ -n "$found" ] || { echo "install-vulkan: no apt source serves suite $codename" >&2; exit 1; }
  uri=${found%%|*}; key=${found#*|}
  echo "install-vulkan: adding $backports from $uri"
  {
    echo "Types: deb"
    echo "URIs: $uri"
    echo "Suites: $backports"
    echo "Components: main"
    [ -z "$key" ] || echo "Signed-By: $key"
  } | $SUDO tee /etc/apt/sources.list.d/fsam-lab-backports.sources >/dev/null
  apt_get update -qq
fi
apt_get install -y -qq -t "$backports" mesa-vulkan-drivers >/dev/null
apt_get install -y -qq libvulkan1 >/dev/null
echo "install-vulkan: $(dpkg-query -W -f='${Package} ${Version}\n' mesa-vulkan-drivers libvulkan1 | tr '\n' ' ')"
