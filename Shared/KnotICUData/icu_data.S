// The ICU data a release image's binaries carry, trimmed by
// packaging/icu/trim-icu-data (see docs/architecture.md, "Images").
//
// Foundation's static library links all of ICU's data (34 MB) under one
// symbol, icudt<version>_dat, in lib_FoundationICU.a. When scripts/images
// builds, Package.swift defines KNOT_ICU_DATA_FILE (the trimmed package) and
// KNOT_ICU_DATA_SYMBOL (that symbol's name); this object then defines the
// symbol, and the linker never pulls the archive's copy. Every other build
// leaves this file empty, so Foundation keeps its full data.
#if defined(__ELF__) && defined(KNOT_ICU_DATA_FILE) && defined(KNOT_ICU_DATA_SYMBOL)
    .section .rodata.knot_icu_data, "a", @progbits
    .globl KNOT_ICU_DATA_SYMBOL
    .type KNOT_ICU_DATA_SYMBOL, @object
    .balign 16
KNOT_ICU_DATA_SYMBOL:
    .incbin KNOT_ICU_DATA_FILE
    .size KNOT_ICU_DATA_SYMBOL, . - KNOT_ICU_DATA_SYMBOL
#endif
#if defined(__ELF__)
    .section .note.GNU-stack, "", @progbits
#endif
