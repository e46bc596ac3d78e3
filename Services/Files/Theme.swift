import Foundation

/// The dashboard's theme, as read from the admin domain's `theme/theme.json`.
///
/// Admins write that file, but it is still input from a file anyone with admin
/// rights (or a compromised admin account) can change, and the dashboard puts
/// its values into the page. So nothing is passed through as CSS or markup:
/// colours must be `#rgb` or `#rrggbb` (normalised to lowercase `#rrggbb`),
/// the title and menu titles are plain text the dashboard sets as text, menu
/// addresses are `http(s)://` or same-site paths, and the logo is a plain file
/// name inside `theme/`. Anything else is dropped with a warning the admins
/// see, and the default stands in for it: a broken theme never breaks the
/// dashboard and never answers 500.
struct Theme: Encodable, Sendable, Equatable {
    var title: String
    var colours: [String: String]
    var menu: [MenuEntry]
    /// The logo's file name inside `theme/`, once it has been checked (see `ThemeFiles`).
    var logoName: String?

    struct MenuEntry: Encodable, Sendable, Equatable {
        var title: String
        var url: String
    }

    static let defaultTitle = "Knot"
    /// The colours a theme may set, and what each paints (the dashboard's CSS custom properties).
    static let colourKeys: [String: String] = [
        "primary": "links, buttons and the current tab",
        "primary_text": "text on primary buttons",
        "accent": "the highlighted menu entry",
        "background": "the page behind the content",
        "surface": "cards, tables and the header",
        "text": "body text",
        "muted": "secondary text",
    ]
    /// The defaults (the values in `Web/knot.css`), used for contrast checks of partial themes.
    static let defaultColours: [String: String] = [
        "primary": "#2456d6", "primary_text": "#ffffff", "accent": "#e6edff", "background": "#f3f5f8",
        "surface": "#ffffff", "text": "#1b2330", "muted": "#5b6575",
    ]
    static let knownKeys: Set<String> = ["title", "colours", "colors", "menu", "logo"]
    static let maxTitle = 60
    static let maxMenuEntries = 10
    static let maxMenuTitle = 40
    static let maxURL = 2048
    static let logoExtensions = ["svg", "png", "webp"]

    static let standard = Theme(title: defaultTitle, colours: [:], menu: [], logoName: nil)

    /// Parses and validates `theme.json`; every problem becomes a warning and the default for that part.
    /// Nil (and a warning) when the file is not a JSON object at all.
    static func parse(_ data: [UInt8], warnings: inout [String]) -> Theme? {
        var theme = standard
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(data), options: [])
        } catch {
            warnings.append("theme/theme.json is not valid JSON, so the default theme is used (check commas, quotes and brackets)")
            return nil
        }
        guard let fields = object as? [String: Any] else {
            warnings.append("theme/theme.json must hold one JSON object ({…}), so the default theme is used")
            return nil
        }
        let unknown = fields.keys.filter { !knownKeys.contains($0) }.sorted()
        if !unknown.isEmpty {
            warnings.append("theme/theme.json has keys Knot does not know, which are ignored: \(unknown.map(quoted).joined(separator: ", "))")
        }
        if let raw = fields["title"] {
            if let title = raw as? String, let clean = plainText(title, limit: maxTitle) {
                theme.title = clean
            } else {
                warnings.append("title must be text of 1 to \(maxTitle) characters; the default is used")
            }
        }
        if let raw = fields["colours"] ?? fields["colors"] {
            if let colours = raw as? [String: Any] {
                for key in colours.keys.sorted() {
                    guard colourKeys[key] != nil else {
                        warnings.append("colours.\(quotedKey(key)) is not a colour Knot uses (it knows \(colourKeys.keys.sorted().joined(separator: ", "))); it is ignored")
                        continue
                    }
                    if let text = colours[key] as? String, let colour = hexColour(text) {
                        theme.colours[key] = colour
                    } else {
                        warnings.append("colours.\(key) must be a colour written #rgb or #rrggbb (like #2456d6); the default is used")
                    }
                }
            } else {
                warnings.append("colours must be an object like {\"primary\": \"#2456d6\"}; the default colours are used")
            }
        }
        if let raw = fields["menu"] {
            if let entries = raw as? [Any] {
                for (index, item) in entries.enumerated() {
                    guard theme.menu.count < maxMenuEntries else {
                        warnings.append("the menu has more than \(maxMenuEntries) entries; the rest are left out")
                        break
                    }
                    guard let entry = item as? [String: Any], let rawTitle = entry["title"] as? String,
                        let title = plainText(rawTitle, limit: maxMenuTitle)
                    else {
                        warnings.append("menu entry \(index + 1) needs a title of 1 to \(maxMenuTitle) characters; it is left out")
                        continue
                    }
                    guard let rawURL = entry["url"] as? String, let url = safeURL(rawURL) else {
                        warnings.append("menu entry \(index + 1) (\(quoted(title))) needs a url starting with https://, http:// or /; it is left out")
                        continue
                    }
                    theme.menu.append(MenuEntry(title: title, url: url))
                }
            } else {
                warnings.append("menu must be a list like [{\"title\": \"Docs\", \"url\": \"https://…\"}]; it is ignored")
            }
        }
        if let raw = fields["logo"] {
            if let name = raw as? String, let clean = logoFileName(name) {
                theme.logoName = clean
            } else {
                warnings.append("logo must be the name of an .svg, .png or .webp file in the theme folder (like logo.svg); no logo is shown")
            }
        }
        warnings.append(contentsOf: contrastWarnings(theme.colours))
        return theme
    }

    // MARK: the checks

    /// `#rgb` or `#rrggbb`, and nothing else (no names, no functions, no `;`), as lowercase `#rrggbb`.
    static func hexColour(_ text: String) -> String? {
        let scalars = Array(text.unicodeScalars)
        guard scalars.first == "#", scalars.count == 4 || scalars.count == 7 else { return nil }
        let digits = scalars.dropFirst()
        guard digits.allSatisfy({ ("0"..."9").contains($0) || ("a"..."f").contains($0) || ("A"..."F").contains($0) }) else { return nil }
        let lower = String(String.UnicodeScalarView(digits)).lowercased()
        return "#" + (lower.count == 3 ? lower.map { "\($0)\($0)" }.joined() : lower)
    }

    /// Trimmed text without control characters, or nil when empty or too long.
    static func plainText(_ text: String, limit: Int) -> String? {
        let clean = String(String.UnicodeScalarView(text.unicodeScalars.filter { !CharacterSet.controlCharacters.contains($0) }))
            .trimmingCharacters(in: .whitespaces)
        guard !clean.isEmpty, clean.count <= limit else { return nil }
        return clean
    }

    /// An absolute `http(s)` URL with a host, or a path on this site (`/…` but not `//…`); never
    /// `javascript:`, `data:` or anything a browser might read as another scheme.
    static func safeURL(_ text: String) -> String? {
        let url = text.trimmingCharacters(in: .whitespaces)
        guard !url.isEmpty, url.count <= maxURL,
            url.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7f && $0 != "\\" && $0 != "\"" && $0 != "<" && $0 != ">" })
        else { return nil }
        if url.hasPrefix("/") { return url.hasPrefix("//") ? nil : url }
        let lower = url.lowercased()
        guard lower.hasPrefix("https://") || lower.hasPrefix("http://"),
            let parsed = URLComponents(string: url), let host = parsed.host, !host.isEmpty
        else { return nil }
        return url
    }

    /// A plain name (no folders, not hidden) ending in a logo extension.
    static func logoFileName(_ name: String) -> String? {
        guard !name.isEmpty, name.count <= 255, !name.hasPrefix("."), !name.contains("/"), !name.contains("\\"),
            !name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }),
            let dot = name.lastIndex(of: "."), logoExtensions.contains(name[name.index(after: dot)...].lowercased())
        else { return nil }
        return name
    }

    // MARK: contrast (WCAG 2.x)

    /// The pairs people read, checked against WCAG AA's 4.5:1 for body text.
    static let readPairs: [(foreground: String, background: String, what: String)] = [
        ("text", "background", "body text on the page background"),
        ("text", "surface", "body text on cards and tables"),
        ("muted", "surface", "secondary text on cards and tables"),
        ("primary", "surface", "links on cards and tables"),
        ("primary_text", "primary", "text on primary buttons"),
    ]

    static func contrastWarnings(_ colours: [String: String]) -> [String] {
        guard !colours.isEmpty else { return [] }
        var warnings: [String] = []
        for pair in readPairs where colours[pair.foreground] != nil || colours[pair.background] != nil {
            let foreground = colours[pair.foreground] ?? defaultColours[pair.foreground]!
            let background = colours[pair.background] ?? defaultColours[pair.background]!
            let ratio = contrast(foreground, background)
            if ratio < 4.5 {
                warnings.append(
                    "the contrast of \(pair.what) (\(foreground) on \(background)) is \(String(format: "%.1f", ratio)):1; "
                        + "WCAG AA asks for at least 4.5:1, so some people will not be able to read it")
            }
        }
        return warnings
    }

    static func contrast(_ first: String, _ second: String) -> Double {
        let (a, b) = (luminance(first), luminance(second))
        return (max(a, b) + 0.05) / (min(a, b) + 0.05)
    }

    /// Relative luminance of a `#rrggbb` colour.
    static func luminance(_ hex: String) -> Double {
        let value = Int(hex.dropFirst(), radix: 16) ?? 0
        let channels = [(value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff].map { Double($0) / 255 }
        let linear = channels.map { $0 <= 0.03928 ? $0 / 12.92 : pow(($0 + 0.055) / 1.055, 2.4) }
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    }

    static func quoted(_ text: String) -> String { "\"\(String(text.prefix(40)))\"" }
    static func quotedKey(_ text: String) -> String {
        plainText(text, limit: 40).map { $0 } ?? "…"
    }
}
