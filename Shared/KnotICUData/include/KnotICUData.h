// KnotICUData has no API: it only links (in release images) the trimmed ICU
// data that replaces Foundation's full copy. See icu_data.S.
