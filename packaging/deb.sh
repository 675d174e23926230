#!/bin/sh
# deb.sh BUILD_DIR [OUT_DIR]: `make deb`. Builds llmnet_<version>_<arch>.deb
# from the llmnet built in BUILD_DIR, with dpkg-deb (no debhelper):
#   - the files are what `cmake --install --prefix /usr --strip` installs
#     (cmake/install.cmake), staged under BUILD_DIR/deb/root;
#   - /usr/share/doc/llmnet gets the copyright file and a changelog.gz;
#   - Depends is computed from the binary's libraries by dpkg-shlibdeps;
#   - the files under /etc are conffiles; postinst creates the system user
#     llmnet, postrm removes it on purge (packaging/debian/).
# Prints the path of the package on its last line. The package lands in
# OUT_DIR (default BUILD_DIR).
set -eu
build=$(cd "${1:?usage: deb.sh BUILD_DIR [OUT_DIR]}" && pwd)
out=$(cd "${2:-$build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")

for tool in dpkg-deb dpkg-shlibdeps gzip; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "llmnet deb: $tool is missing: it is in Debian's dpkg-dev (make deps installs it)" >&2
    exit 1
  }
done
[ -x "$build/llmnet" ] || {
  echo "llmnet deb: $build/llmnet is not built: run make first" >&2
  exit 1
}

version=$("$build/llmnet" --version | sed -n '1s/^llmnet //p')
arch=$(dpkg --print-architecture)
work=$build/deb
stage=$work/root
rm -rf "$work"
mkdir -p "$stage/DEBIAN" "$work/shlibs/debian"

# --component: the manifest written is install_manifest_llmnet.txt, not the
# install_manifest.txt of a `make install` that `make uninstall` reads.
DESTDIR=$stage cmake --install "$build" --prefix /usr --strip --component llmnet >/dev/null
# no compiler identification strings in the shipped binary
strip --remove-section=.comment "$stage/usr/bin/llmnet"

doc=$stage/usr/share/doc/llmnet
install -m 0644 "$here/debian/copyright" "$doc/copyright"
# A native package's changelog: one entry for this version, dated by the
# commit it was built from (SOURCE_DATE_EPOCH when set), so it is reproducible.
when=${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)}
revision=$("$build/llmnet" --version | sed -n 's/^revision: //p')
{
  echo "llmnet ($version) unstable; urgency=medium"
  echo
  echo "  * llmnet $version, built from revision $revision."
  echo
  echo " -- llmnet developers <llmnet@example.org>  $(LC_ALL=C date -u -R -d "@$when")"
} | gzip -9 -n >"$doc/changelog.gz"

# Permissions as Debian wants them, whatever the umask of the build was.
find "$stage" -type d -exec chmod 0755 {} +
find "$stage" -type f -exec chmod go-w {} +

# Depends from the binary's libraries (dpkg-shlibdeps wants a debian/control).
printf 'Source: llmnet\n\nPackage: llmnet\nArchitecture: any\n' >"$work/shlibs/debian/control"
depends=$(cd "$work/shlibs" && dpkg-shlibdeps -O -e"$stage/usr/bin/llmnet" 2>/dev/null |
  sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || {
  echo "llmnet deb: dpkg-shlibdeps found no dependency for $stage/usr/bin/llmnet" >&2
  exit 1
}
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" -e "s/@DEPENDS@/$depends/" \
  "$here/debian/control.in" >"$stage/DEBIAN/control"
(cd "$stage" && find etc -type f | sort | sed 's|^|/|') >"$stage/DEBIAN/conffiles"
for script in postinst prerm postrm; do
  install -m 0755 "$here/debian/$script" "$stage/DEBIAN/$script"
done
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | sort | xargs md5sum) \
  >"$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/conffiles" "$stage/DEBIAN/md5sums"

deb=$out/llmnet_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
