#!/bin/sh
# Build the supervisor-rs .deb with dpkg-deb alone (no cargo-deb).
#
#   packaging/deb/build.sh [--release | --binaries DIR] [--out DIR]
#                          [--compression xz|gzip|zstd|none]
#
# --release (the default) runs `cargo build --release --locked -p supervisord`
# and packages target/release; --binaries DIR packages the four binaries
# already built in DIR (the e2e test passes target/debug). The .deb is
# written to --out (default target/deb) and its path printed on stdout.
# --compression is dpkg-deb's -Z (default xz); the test uses none, as xz
# takes minutes over debug binaries.
#
# The layout mirrors Debian's "supervisor" package where users meet it
# (/etc/supervisor, /var/log/supervisor, supervisor.service), so that
# switching from it keeps every conf.d file and every habit.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
packaging=$(dirname "$here")
root=$(dirname "$packaging")

mode=release
bindir=
out="$root/target/deb"
compression=xz
while [ $# -gt 0 ]; do
    case $1 in
        --release) mode=release ;;
        --binaries)
            [ $# -ge 2 ] || { echo "build.sh: --binaries needs a directory" >&2; exit 2; }
            mode=binaries; bindir=$2; shift ;;
        --out)
            [ $# -ge 2 ] || { echo "build.sh: --out needs a directory" >&2; exit 2; }
            out=$2; shift ;;
        --compression)
            [ $# -ge 2 ] || { echo "build.sh: --compression needs a type" >&2; exit 2; }
            compression=$2; shift ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "build.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

if [ "$mode" = release ]; then
    # Progress of cargo goes to stderr; stdout carries only the .deb's path.
    (cd "$root" && cargo build --release --locked -p supervisord >&2)
    bindir="$root/target/release"
fi
bins="supervisord supervisorctl echo_supervisord_conf pidproxy"
for b in $bins; do
    [ -x "$bindir/$b" ] || { echo "build.sh: $bindir/$b is missing or not executable" >&2; exit 1; }
done

# The version of the workspace ([workspace.package] in the root manifest).
version=$(awk '
    /^\[/ { in_pkg = ($0 == "[workspace.package]") }
    in_pkg && /^version *=/ { gsub(/.*= *"|".*/, ""); print; exit }
' "$root/Cargo.toml")
[ -n "$version" ] || { echo "build.sh: no version in [workspace.package] of $root/Cargo.toml" >&2; exit 1; }
arch=$(dpkg --print-architecture)
package=supervisor-rs

mkdir -p "$out"
stage=$(mktemp -d "$out/stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT INT TERM
pkg="$stage/$package"

# Binaries. Debug builds carry their debug info; release builds are already
# stripped of it by the release profile.
install -d -m 0755 "$pkg/usr/bin"
for b in $bins; do
    install -m 0755 "$bindir/$b" "$pkg/usr/bin/$b"
done

# Configuration: the daemon's file is a conffile; conf.d is empty and is
# where the programs go; the log folder is made here so that a first start
# finds it.
install -d -m 0755 "$pkg/etc/supervisor/conf.d" "$pkg/var/log/supervisor"
install -m 0644 "$packaging/etc/supervisord.conf" "$pkg/etc/supervisor/supervisord.conf"

# The systemd unit.
install -d -m 0755 "$pkg/lib/systemd/system"
install -m 0644 "$packaging/systemd/supervisor.service" "$pkg/lib/systemd/system/supervisor.service"

# Man pages, compressed as Debian policy asks (-n: no name or time stamp,
# so two builds give the same bytes).
for page in "$packaging"/man/*.[1-8]; do
    section=${page##*.}
    install -d -m 0755 "$pkg/usr/share/man/man$section"
    gzip -9n < "$page" > "$pkg/usr/share/man/man$section/$(basename "$page").gz"
    chmod 0644 "$pkg/usr/share/man/man$section/$(basename "$page").gz"
done

# Shell completions, where each shell looks for vendor files.
install -d -m 0755 "$pkg/usr/share/bash-completion/completions" \
    "$pkg/usr/share/zsh/vendor-completions" "$pkg/usr/share/fish/vendor_completions.d"
install -m 0644 "$packaging/completions/supervisorctl.bash" "$pkg/usr/share/bash-completion/completions/supervisorctl"
install -m 0644 "$packaging/completions/_supervisorctl" "$pkg/usr/share/zsh/vendor-completions/_supervisorctl"
install -m 0644 "$packaging/completions/supervisorctl.fish" "$pkg/usr/share/fish/vendor_completions.d/supervisorctl.fish"

# Documentation: the licence notice Debian policy asks every package for.
install -d -m 0755 "$pkg/usr/share/doc/$package"
install -m 0644 "$here/copyright" "$pkg/usr/share/doc/$package/copyright"

# Control data.
install -d -m 0755 "$pkg/DEBIAN"
installed_size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$installed_size/" \
    "$here/control.in" > "$pkg/DEBIAN/control"
install -m 0644 "$here/conffiles" "$pkg/DEBIAN/conffiles"
for script in postinst prerm postrm; do
    install -m 0755 "$here/$script" "$pkg/DEBIAN/$script"
done

deb="$out/${package}_${version}_${arch}.deb"
# --root-owner-group: every file root:root whoever builds it, so no
# fakeroot is needed.
dpkg-deb --root-owner-group "-Z$compression" --build "$pkg" "$deb" >&2
echo "$deb"
