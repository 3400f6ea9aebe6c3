#!/bin/bash
# Playwright's executablePath: merges every --disable-features and
# --enable-features into one each (Chromium honours only the last) and
# skips Debian's /usr/bin/chromium wrapper (browser-testing.md).
dis=(); en=(); out=()
for a in "$@"; do
  case "$a" in
    --disable-features=*) dis+=("${a#--disable-features=}") ;;
    --enable-features=*)  en+=("${a#--enable-features=}") ;;
    *) out+=("$a") ;;
  esac
done
[ ${#dis[@]} -gt 0 ] && out+=("--disable-features=$(IFS=,; echo "${dis[*]}")")
[ ${#en[@]} -gt 0 ] && out+=("--enable-features=$(IFS=,; echo "${en[*]}")")
exec /usr/lib/chromium/chromium "${out[@]}"
