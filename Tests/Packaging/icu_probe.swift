// What Knot's services (and the libraries they use) ask of Foundation that
// touches ICU's data: HTTP and ISO 8601 dates, calendars and time zones,
// formatted numbers and sizes, IDNA host names, case mapping, collation and
// the regular expressions Yams resolves tags with. test_trim_icu_data.py runs
// this linked with the full data and with the trimmed data and compares.
import Foundation

let date = Date(timeIntervalSince1970: 1_700_000_000.25)
let http = DateFormatter()
http.locale = Locale(identifier: "en_US_POSIX")
http.timeZone = TimeZone(identifier: "GMT")
http.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
print(http.string(from: date))
print(http.date(from: "Sun, 06 Nov 1994 08:49:37 GMT")?.timeIntervalSince1970 ?? -1)
print(ISO8601DateFormatter().string(from: date))
let encoder = JSONEncoder()
encoder.dateEncodingStrategy = .iso8601
print(String(decoding: try! encoder.encode([date]), as: UTF8.self))
let decoder = JSONDecoder()
decoder.dateDecodingStrategy = .iso8601
print(try! decoder.decode([Date].self, from: Data(#"["2024-02-29T12:00:00Z"]"#.utf8)))
var calendar = Calendar(identifier: .gregorian)
calendar.timeZone = TimeZone(identifier: "UTC")!
print(calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date))
print(calendar.date(from: DateComponents(year: 2026, month: 11, day: 22, hour: 3))!.timeIntervalSince1970)
for zone in ["Europe/Athens", "America/New_York", "Asia/Tokyo", "Australia/Lord_Howe", "UTC"] {
    let tz = TimeZone(identifier: zone)!
    print(zone, tz.secondsFromGMT(for: date), tz.abbreviation(for: date) ?? "-", tz.isDaylightSavingTime(for: date))
}
print(TimeZone.knownTimeZoneIdentifiers.count > 300, TimeZone.current.identifier, Locale.current.identifier)
print(String(format: "%02x %.1f %.2f %3d%% %@ %5.1f %e", 171, 3.14159, 2.5, 42, "x", 99.95, 12345.678))
print(ByteCountFormatter.string(fromByteCount: 123_456_789, countStyle: .file))
print(ByteCountFormatter.string(fromByteCount: 999, countStyle: .binary))
print(1_234_567.5.formatted(), 0.256.formatted(.percent), date.formatted(.iso8601))
print(URL(string: "https://bücher.example/ä?q=1")?.absoluteString ?? "nil")
print(URL(string: "https://xn--bcher-kva.example/")!.host ?? "-")
print("Straße".uppercased(), "ΣΊΣΥΦΟΣ".lowercased(), "İ".lowercased().unicodeScalars.count)
print("a".localizedCompare("B").rawValue, "résumé".localizedCaseInsensitiveCompare("RESUME").rawValue)
print("é".precomposedStringWithCanonicalMapping == "e\u{301}".precomposedStringWithCanonicalMapping)
let integer = try! NSRegularExpression(pattern: "^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$")
let timestamp = try! NSRegularExpression(pattern: "^[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \\t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\\.[0-9]*)?$")
for text in ["12_3", "0x1F", "abc", "2026-11-22 03:04:05.5", "2026-11-22T03:04:05"] {
    let range = NSRange(text.startIndex..., in: text)
    print(text, integer.numberOfMatches(in: text, range: range), timestamp.numberOfMatches(in: text, range: range))
}
let medium = DateFormatter()
medium.dateStyle = .medium
medium.timeStyle = .short
medium.timeZone = TimeZone(identifier: "UTC")
medium.locale = Locale(identifier: "en_US")
print(medium.string(from: date))
print(" trim \n".trimmingCharacters(in: .whitespacesAndNewlines), "a,b".components(separatedBy: ","))
