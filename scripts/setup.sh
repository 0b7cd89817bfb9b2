#!/usr/bin/env bash
# Installs msb from this checkout into $MSB_HOME (default ~/.microsandbox): finds or installs the
# pinned Bun, builds dist/msb, installs it as $MSB_HOME/bin/msb, copies libkrun and libkrunfw
# into $MSB_HOME/lib (as root, installing the distribution's packages when its index has them;
# libkrunfw from the upstream release when online), records what it found in
# $MSB_HOME/lib/vmm-libraries.json, adds $MSB_HOME/bin to PATH, and ends with `msb doctor`.
# Safe to re-run and offline: every step checks what is already there and explains what it skips.
#
# Usage: bash scripts/setup.sh [--no-modify-path] [--no-system-packages]
set -euo pipefail

MODIFY_PATH=1
SYSTEM_PACKAGES=1
for arg in "$@"; do
  case "$arg" in
    --no-modify-path) MODIFY_PATH=0 ;;
    --no-system-packages) SYSTEM_PACKAGES=0 ;;
    -h | --help)
      sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "setup: unknown option $arg (usage: bash scripts/setup.sh [--no-modify-path] [--no-system-packages])" >&2
      exit 2
      ;;
  esac
done

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MSB_HOME="${MSB_HOME:-$HOME/.microsandbox}"
TOOLS_DIR="$MSB_HOME/tools"
export MSB_HOME

say() { printf '%s\n' "$*"; }
die() {
  printf 'setup: error: %s\n' "$*" >&2
  exit 1
}

# The "bun" entry of devDependencies in package.json, e.g. 1.4.5.
pinned_bun_version() {
  sed -n '/"devDependencies"/,/}/p' "$REPO_ROOT/package.json" |
    sed -n 's/^[[:space:]]*"bun":[[:space:]]*"\([^"]*\)".*/\1/p'
}

# Prints the first candidate whose `--version` is exactly the pinned one.
first_bun_with_version() {
  local want="$1" candidate
  shift
  for candidate in "$@"; do
    [ -x "$candidate" ] || continue
    if [ "$("$candidate" --version 2>/dev/null || true)" = "$want" ]; then
      printf '%s\n' "$candidate"
      return 0
    fi
  done
  return 1
}

bun_platform() {
  case "$(uname -m)" in
    x86_64 | amd64) echo "linux-x64" ;;
    aarch64 | arm64) echo "linux-aarch64" ;;
    *) die "unsupported CPU $(uname -m): Bun ships for x86-64 and arm64" ;;
  esac
}

# Bun on PATH, or a copy installed earlier under $MSB_HOME/tools. npm may skip bun's postinstall
# (which moves the platform binary into place), so the platform package's bin/bun counts too.
find_bun() {
  local want="$1" candidates
  candidates=("$(command -v bun || true)" "$TOOLS_DIR/node_modules/.bin/bun" "$TOOLS_DIR/node_modules/bun/bin/bun.exe")
  shopt -s nullglob
  candidates+=("$TOOLS_DIR"/node_modules/@oven/bun-"$BUN_PLATFORM"*/bin/bun)
  shopt -u nullglob
  first_bun_with_version "$want" "${candidates[@]}"
}

install_bun() {
  local want="$1"
  command -v node >/dev/null 2>&1 || die "node not found: installing Bun $want needs Node.js and npm (apt-get install nodejs npm), or put bun $want on PATH"
  command -v npm >/dev/null 2>&1 || die "npm not found: installing Bun $want needs npm (apt-get install npm), or put bun $want on PATH"
  say "Installing Bun $want into $TOOLS_DIR (npm) ..."
  mkdir -p "$TOOLS_DIR"
  npm install --prefix "$TOOLS_DIR" --no-audit --no-fund --update-notifier=false --loglevel=error "bun@$want" >&2 ||
    die "npm install bun@$want failed (is the npm registry reachable?)"
}

# Copies $1 to $2 through a temporary file in the same directory, so readers never see half a file.
install_file_atomically() {
  local source="$1" target="$2" mode="$3" temporary
  temporary="$(dirname "$target")/.$(basename "$target").tmp.$$"
  cp -f "$source" "$temporary"
  chmod "$mode" "$temporary"
  mv -f "$temporary" "$target"
}

# Where this host has `soname`: the env variable (a file or a directory), ldconfig's cache, or the
# usual library directories. Prints nothing when it is not installed.
find_library() {
  local soname="$1" from_env="$2" dir ldconfig_bin
  if [ -n "$from_env" ]; then
    [ -d "$from_env" ] && from_env="$from_env/$soname"
    if [ -e "$from_env" ]; then
      printf '%s\n' "$from_env"
      return 0
    fi
    say "warning: $from_env does not exist; looking for $soname elsewhere" >&2
  fi
  ldconfig_bin="$(command -v ldconfig || echo /sbin/ldconfig)"
  if [ -x "$ldconfig_bin" ]; then
    dir="$("$ldconfig_bin" -p 2>/dev/null | awk -v so="$soname" '$1 == so { print $NF; exit }')"
    if [ -n "$dir" ] && [ -e "$dir" ]; then
      printf '%s\n' "$dir"
      return 0
    fi
  fi
  for dir in /usr/lib64 /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib /usr/local/lib64 /usr/local/lib; do
    if [ -e "$dir/$soname" ]; then
      printf '%s\n' "$dir/$soname"
      return 0
    fi
  done
  return 1
}

# Upstream microsandbox releases ship libkrunfw (not libkrun) in a per-platform tarball with a
# checksums file; MSB_RELEASE_URL points elsewhere (a mirror, or a test server).
RELEASE_URL="${MSB_RELEASE_URL:-https://github.com/superradcompany/microsandbox/releases/latest/download}"

# Downloads the release tarball, checks its sha256, and prints the path of `soname`'s real file
# inside it. Fails (quietly, the caller explains) when offline or when anything does not match.
download_library() {
  local soname="$1" asset dir file
  command -v curl >/dev/null 2>&1 || return 1
  asset="microsandbox-linux-$(uname -m).tar.gz"
  dir="$(mktemp -d "$DOWNLOAD_DIR/release.XXXXXX")"
  curl -fsSL --max-time 120 --retry 2 -o "$dir/$asset" "$RELEASE_URL/$asset" 2>/dev/null || return 1
  curl -fsSL --max-time 30 --retry 2 -o "$dir/checksums.sha256" "$RELEASE_URL/checksums.sha256" 2>/dev/null || return 1
  if ! (cd "$dir" && grep -E "[[:space:]]\*?$asset\$" checksums.sha256 | sha256sum -c --status 2>/dev/null); then
    say "warning: $RELEASE_URL/$asset does not match its published sha256; not using it" >&2
    return 1
  fi
  mkdir -p "$dir/x"
  tar -xzf "$dir/$asset" -C "$dir/x" 2>/dev/null || return 1
  file="$(find "$dir/x" -name "$soname*" -type f | sort | tail -n 1)"
  [ -n "$file" ] || return 1
  printf '%s\n' "$file"
}

# The distribution's package name for `name` (libkrun, libkrunfw) under package manager `pm`.
package_name() {
  case "$1:$2" in
    apt:libkrunfw) echo libkrunfw5 ;;
    apt:libkrun) echo libkrun1 ;;
    zypper:libkrun) echo libkrun1 ;;
    *) echo "$2" ;;
  esac
}

package_manager() {
  local pm
  for pm in apt-get dnf zypper pacman; do
    if command -v "$pm" >/dev/null 2>&1; then
      [ "$pm" = apt-get ] && pm=apt
      echo "$pm"
      return 0
    fi
  done
  return 1
}

# Installs `name` with the distribution's package manager, only as root (a setup script never
# prompts for sudo) and only when the package index knows the package. Fails quietly otherwise.
install_system_package() {
  local name="$1" pm package
  [ "$SYSTEM_PACKAGES" = 1 ] && [ "$(id -u)" = 0 ] || return 1
  pm="$(package_manager)" || return 1
  package="$(package_name "$pm" "$name")"
  case "$pm" in
    apt)
      [ -n "$(apt-cache policy "$package" 2>/dev/null | sed -n 's/^[[:space:]]*Candidate:[[:space:]]*//p' | grep -v '(none)')" ] || return 1
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$package" >&2 || return 1
      ;;
    dnf) dnf install -y -q "$package" >&2 || return 1 ;;
    zypper) zypper --non-interactive install "$package" >&2 || return 1 ;;
    pacman) pacman -S --noconfirm --needed "$package" >&2 || return 1 ;;
  esac
  say "$name: installed the $pm package $package"
}

# What this distribution offers for libkrun, which has no upstream binary release.
libkrun_options() {
  local id=""
  [ -r /etc/os-release ] && id="$(. /etc/os-release && echo "${ID:-} ${ID_LIKE:-}")"
  case " $id " in
    *" fedora "* | *" rhel "* | *" centos "*) say "  - sudo dnf install libkrun libkrunfw" ;;
    *" arch "*) say "  - sudo pacman -S libkrun libkrunfw" ;;
    *" suse "* | *" opensuse "*) say "  - sudo zypper install libkrun1 (Virtualization repository)" ;;
    *" debian "* | *" ubuntu "*) say "  - this distribution has no libkrun package (Debian ships only libkrunfw5, in newer suites)" ;;
  esac
  say "  - build it: git clone https://github.com/libkrun/libkrun && cd libkrun && make BLK=1 NET=1 && sudo make install"
  say "  - or use QEMU instead (msb picks it when libkrun is missing): $(qemu_install_hint)"
}

qemu_install_hint() {
  case "$(uname -m)" in
    aarch64 | arm64) echo "apt install qemu-system-arm (or your distribution's qemu-system-aarch64)" ;;
    *) echo "apt install qemu-system-x86 (or your distribution's qemu-system-x86_64)" ;;
  esac
}

# Puts the real file of `soname` into $MSB_HOME/lib with the soname symlink next to it, and
# records where it came from in FOUND_<name> / SOURCE_<name> for vmm-libraries.json.
install_library() {
  local name="$1" soname="$2" env_name="$3" downloadable="$4" source real base lib_dir="$MSB_HOME/lib" old
  local origin=system
  printf -v "FOUND_$name" '%s' ""
  printf -v "SOURCE_$name" '%s' missing
  if ! source="$(find_library "$soname" "${!env_name:-}")" && install_system_package "$name"; then
    source="$(find_library "$soname" "${!env_name:-}")" && origin=package
  fi
  if [ -z "${source:-}" ]; then
    if [ -e "$lib_dir/$soname" ]; then
      say "$name: keeping $(readlink -f "$lib_dir/$soname")"
      printf -v "FOUND_$name" '%s' "$(readlink -f "$lib_dir/$soname")"
      printf -v "SOURCE_$name" '%s' kept
      return 0
    fi
    if [ "$downloadable" != download ] || ! source="$(download_library "$soname")"; then
      local tried=""
      [ "$downloadable" = download ] && tried=" (no installed copy, and $RELEASE_URL could not be reached)"
      say "$name not found$tried: libkrun VMs need it; set $env_name=/path/$soname or install it; QEMU and the namespace backend work without it"
      if [ "$name" = libkrun ]; then
        say "libkrun options on this host:"
        libkrun_options
      fi
      return 0
    fi
    say "$name: downloaded from $RELEASE_URL"
    origin=download
  fi
  printf -v "SOURCE_$name" '%s' "$origin"
  real="$(readlink -f "$source")"
  base="$(basename "$real")"
  [[ "$base" == "$soname".* ]] || base="$soname"
  printf -v "FOUND_$name" '%s' "$lib_dir/$base"
  if [ "$(readlink -f "$lib_dir/$soname" || true)" = "$lib_dir/$base" ] && cmp -s "$real" "$lib_dir/$base"; then
    say "$name: $lib_dir/$base is up to date (from $real)"
    return 0
  fi
  mkdir -p "$lib_dir"
  install_file_atomically "$real" "$lib_dir/$base" 0755
  if [ "$base" != "$soname" ]; then
    ln -sfn "$base" "$lib_dir/.$soname.tmp.$$"
    mv -fT "$lib_dir/.$soname.tmp.$$" "$lib_dir/$soname"
  fi
  for old in "$lib_dir/$soname".*; do
    if [ -e "$old" ] && [ "$(basename "$old")" != "$base" ]; then rm -f "$old"; fi
  done
  say "$name: installed $real as $lib_dir/$base"
}

json_string() {
  if [ -z "$1" ]; then
    printf 'null'
  else
    printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"
  fi
}

# $MSB_HOME/lib/vmm-libraries.json: what this run found, for people and support requests (msb
# itself always probes the libraries afresh).
record_libraries() {
  local lib_dir="$MSB_HOME/lib" qemu file
  qemu="$(command -v qemu-system-"$(uname -m | sed 's/^arm64$/aarch64/')" || true)"
  file="$lib_dir/vmm-libraries.json"
  mkdir -p "$lib_dir"
  {
    printf '{\n  "recordedAt": "%s",\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf '  "libkrun": { "path": %s, "source": "%s" },\n' "$(json_string "$FOUND_libkrun")" "$SOURCE_libkrun"
    printf '  "libkrunfw": { "path": %s, "source": "%s" },\n' "$(json_string "$FOUND_libkrunfw")" "$SOURCE_libkrunfw"
    printf '  "qemu": %s\n}\n' "$(json_string "$qemu")"
  } >"$file.tmp.$$"
  mv -f "$file.tmp.$$" "$file"
  say "recorded: $file"
  [ -n "$qemu" ] || say "QEMU not found: without libkrun, VM sandboxes need it ($(qemu_install_hint))"
}

shell_rc_file() {
  case "$(basename "${SHELL:-}")" in
    bash) echo "$HOME/.bashrc" ;;
    zsh) echo "${ZDOTDIR:-$HOME}/.zshrc" ;;
    *) echo "$HOME/.profile" ;;
  esac
}

RC_BEGIN="# >>> msb (added by scripts/setup.sh) >>>"
RC_END="# <<< msb <<<"

# Writes the PATH block once; a block left by an earlier MSB_HOME is replaced, not duplicated.
add_bin_to_path() {
  local rc block current
  rc="$(shell_rc_file)"
  block="$(printf '%s\nexport PATH="%s:$PATH"\n%s' "$RC_BEGIN" "$MSB_HOME/bin" "$RC_END")"
  touch "$rc"
  current="$(awk -v b="$RC_BEGIN" -v e="$RC_END" '$0 == b { on = 1 } on { print } $0 == e { on = 0 }' "$rc")"
  if [ "$current" = "$block" ]; then
    say "PATH: $rc already adds $MSB_HOME/bin"
    return 0
  fi
  if [ -n "$current" ]; then
    awk -v b="$RC_BEGIN" -v e="$RC_END" '$0 == b { skip = 1 } !skip { print } $0 == e { skip = 0 }' "$rc" >"$rc.msb-tmp"
    cat "$rc.msb-tmp" >"$rc"
    rm -f "$rc.msb-tmp"
  fi
  printf '\n%s\n' "$block" >>"$rc"
  say "PATH: added $MSB_HOME/bin in $rc (open a new shell to use it)"
}

main() {
  local want bun
  BUN_PLATFORM="$(bun_platform)"
  want="$(pinned_bun_version)"
  [ -n "$want" ] || die "no \"bun\" version in devDependencies of $REPO_ROOT/package.json"
  if ! bun="$(find_bun "$want")"; then
    install_bun "$want"
    bun="$(find_bun "$want")" || die "Bun $want was installed under $TOOLS_DIR but no working bun binary was found there"
  fi
  say "Bun $want: $bun"

  cd "$REPO_ROOT"
  PATH="$(dirname "$bun"):$PATH"
  export PATH
  "$bun" install --frozen-lockfile
  "$bun" run build
  [ -x dist/msb ] || die "the build did not produce dist/msb"

  mkdir -p "$MSB_HOME/bin"
  install_file_atomically dist/msb "$MSB_HOME/bin/msb" 0755
  say "msb: installed $MSB_HOME/bin/msb ($("$MSB_HOME/bin/msb" --version))"

  DOWNLOAD_DIR="$(mktemp -d)"
  trap 'rm -rf "$DOWNLOAD_DIR"' EXIT
  install_library libkrunfw libkrunfw.so.5 MSB_LIBKRUNFW download
  install_library libkrun libkrun.so.1 MSB_LIBKRUN no-download
  record_libraries

  if [ "$MODIFY_PATH" = 1 ]; then
    add_bin_to_path
  else
    say "PATH: left alone (--no-modify-path); add $MSB_HOME/bin to PATH yourself"
  fi

  say ""
  say "msb doctor:"
  "$MSB_HOME/bin/msb" doctor || true
}

main
