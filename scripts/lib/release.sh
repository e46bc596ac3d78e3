# The release build that ships: every service linked statically
# (--static-swift-stdlib) with ICU's data trimmed to what the services use,
# by lld with the relative relocations packed (KNOT_RELEASE_LINK=1, read by
# Package.swift), in a scratch path of its own (KNOT_RELEASE_SCRATCH, .build-images) so that
# it never disturbs the ordinary builds in .build. scripts/images packs it
# into the images; scripts/bench measures it, so that a figure is the
# figure of what runs in production (the dynamically linked binaries of
# .build/release map 5-8 MiB more code per process).
# Sourced after common.sh, not run.

RELEASE_SCRATCH="${KNOT_RELEASE_SCRATCH:-$KNOT_ROOT/.build-images}"
RELEASE_BUILD=(env KNOT_RELEASE_LINK=1 swift build -c release --static-swift-stdlib --scratch-path "$RELEASE_SCRATCH")

# Foundation's static library carries all of ICU's data (34 MB) under one
# symbol; packaging/icu/trim-icu-data keeps what the services use, and
# Package.swift links it in that symbol's place (Shared/KnotICUData) when
# KNOT_ICU_DATA and KNOT_ICU_DATA_SYMBOL are set. Exported: call it in the
# process (or subshell) that builds, so that the ordinary builds never see them.
prepare_icu_data() {
  local report
  mkdir -p "$RELEASE_SCRATCH/icu"
  report="$(python3 "$KNOT_ROOT/packaging/icu/trim-icu-data" "$RELEASE_SCRATCH/icu/icudata.dat")" \
    || die "could not trim the toolchain's ICU data"
  log "ICU data: $report"
  export KNOT_ICU_DATA="$RELEASE_SCRATCH/icu/icudata.dat" KNOT_ICU_DATA_SYMBOL="${report%%:*}"
}

# release_build: builds every product as it ships (the ICU data must be
# prepared in this process first); stops with the log's tail on failure.
release_build() {
  local build_log="$RELEASE_SCRATCH/build-images.log"
  mkdir -p "$RELEASE_SCRATCH"
  log "${RELEASE_BUILD[*]} (log in $build_log)"
  ( cd "$KNOT_ROOT" && "${RELEASE_BUILD[@]}" >"$build_log" 2>&1 ) \
    || { tail -30 "$build_log" >&2; die "the release build failed (log: $build_log)"; }
}

# release_bin_path: where release_build puts the binaries.
release_bin_path() { (cd "$KNOT_ROOT" && "${RELEASE_BUILD[@]}" --show-bin-path); }
