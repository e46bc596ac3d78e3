import Foundation
import KnotErrors
import KnotModels
import Logging

/// The built-in catalogue, shipped with the launcher.
enum BuiltinTemplates {
    static var folder: String? { Bundle.module.url(forResource: "BuiltinTemplates", withExtension: nil)?.path }

    static func load() throws -> [Template] {
        guard let folder else { return [] }
        return try Template.files(in: folder).map { try Template.load(id: $0.id, path: $0.path) }
    }
}

/// The whole catalogue as one person sees it. Sources, later overriding
/// earlier by id (`TemplateSource`): the built-ins, every `*.template.yaml` in
/// the folders of `KNOT_TEMPLATE_DIRS` (colon-separated, absolute; read once at
/// start-up), then the `services/` folders of the admin domain, the shared
/// domain and the person's private domain (read through the files service,
/// remembered per person for a few seconds).
///
/// A file from a file domain that does not parse (or whose name is not a
/// valid id, or that is too large) is listed with its `problem` and cannot
/// be launched; it never hides the others. A broken file in a
/// `KNOT_TEMPLATE_DIRS` folder is the operator's: it is logged at start-up and
/// left out, as before.
final class TemplateCatalogue: Sendable {
    static let variable = "KNOT_TEMPLATE_DIRS"

    /// The built-ins and the folders, in order, one per id.
    let base: [CatalogueEntry]
    let files: (any CatalogueFileSource)?
    let cache: CatalogueCache
    let logger: Logger

    init(base: [CatalogueEntry], files: (any CatalogueFileSource)?, cacheLifetime: Duration = .seconds(3), logger: Logger) {
        self.base = base
        self.files = files
        self.cache = CatalogueCache(lifetime: cacheLifetime)
        self.logger = logger
    }

    /// The catalogue `user` sees: every id once, the winning source's template.
    /// Throws (503) only when the files service cannot be reached and nothing is remembered.
    func entries(for user: String) async throws -> [CatalogueEntry] {
        guard let files else { return base }
        if let fresh = await cache.fresh(user) { return fresh }
        let generation = await cache.generation(user)
        let found: [CatalogueFile]
        do {
            found = try await files.files(of: user)
        } catch {
            if let stale = await cache.stale(user) {
                logger.warning("the files service did not answer; an older catalogue is used", metadata: ["error": "\(error)"])
                return stale
            }
            throw error
        }
        let merged = Self.merge(base, found.compactMap(Self.entry))
        await cache.store(merged, for: user, generation: generation)
        return merged
    }

    /// The entry `user` means by `id`, if any (broken ones included).
    func entry(_ id: String, for user: String) async throws -> CatalogueEntry? {
        try await entries(for: user).first { $0.id == id }
    }

    func invalidate(_ user: String) async { await cache.invalidate(user) }

    /// Later entries replace earlier ones with the same id (and take the last place).
    static func merge(_ base: [CatalogueEntry], _ more: [CatalogueEntry]) -> [CatalogueEntry] {
        var merged = base
        for var entry in more {
            if let index = merged.firstIndex(where: { $0.id == entry.id }) {
                entry.replaces = merged[index].source
                merged.remove(at: index)
            }
            merged.append(entry)
        }
        return merged
    }

    /// A file from a file domain as a catalogue entry: parsed, or listed with why not.
    static func entry(_ file: CatalogueFile) -> CatalogueEntry? {
        guard let source = TemplateSource(rawValue: file.domain), [.admin, .shared, .private].contains(source),
            file.name.hasSuffix(Template.fileSuffix)
        else { return nil }
        let id = String(file.name.dropLast(Template.fileSuffix.count))
        var problem = file.problem
        var template: Template?
        if problem == nil && !TemplateID.isValid(id) { problem = TemplateID.problem(id) }
        if problem == nil, let content = file.content {
            do {
                template = try Template.parse(id: id, yaml: content)
            } catch {
                problem = "\(error)"
            }
        } else if problem == nil {
            problem = "the file could not be read"
        }
        var parsed = template ?? broken(id: id, problem: problem ?? "the template is broken")
        if let problem { parsed.problem = problem }
        parsed.source = source.rawValue
        return CatalogueEntry(template: parsed, source: source, yaml: file.content, modified: file.modified, replaces: nil)
    }

    /// A placeholder for a template that could not be read: listed, never launched.
    static func broken(id: String, problem: String) -> Template {
        // Parsed rather than built field by field, so it stays a valid Template whatever fields one gains.
        var template = (try? Template.parse(id: id, yaml: "kind: Template\nname: broken\n"))!
        template.name = id
        template.problem = problem
        return template
    }

    // MARK: Start-up sources

    /// The built-ins and the `KNOT_TEMPLATE_DIRS` folders as catalogue entries, with their text.
    static func loadBase(builtinFolder: String?, folders: String?, logger: Logger) async -> [CatalogueEntry] {
        var entries: [CatalogueEntry] = []
        if let builtinFolder {
            entries = merge(entries, await loadFolder(builtinFolder, source: .builtIn, logger: logger))
        }
        for folder in (folders ?? "").split(separator: ":").map(String.init) where !folder.isEmpty {
            guard folder.hasPrefix("/") else {
                logger.error("\(variable): not an absolute folder; skipped", metadata: ["folder": "\(folder)"])
                continue
            }
            entries = merge(entries, await loadFolder(folder, source: .folder, logger: logger))
        }
        return entries
    }

    /// Every template of a folder: `*.template.yaml` files (broken ones logged
    /// and left out) and Helm charts (folders with a `Chart.yaml`, or `.tgz`
    /// files), which are always listed, a chart that cannot be used with its problem.
    static func loadFolder(_ folder: String, source: TemplateSource, logger: Logger) async -> [CatalogueEntry] {
        let files: [(id: String, path: String)]
        do {
            files = try Template.files(in: folder)
        } catch {
            logger.error("\(variable): cannot read a template folder; skipped", metadata: ["folder": "\(folder)", "error": "\(error)"])
            return []
        }
        var entries: [CatalogueEntry] = []
        for (id, path) in files {
            do {
                let text = try String(contentsOfFile: path, encoding: .utf8)
                var template = try Template.parse(id: id, yaml: text)
                template.source = source.rawValue
                let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
                entries.append(CatalogueEntry(template: template, source: source, yaml: text, modified: modified, replaces: nil))
                if source != .builtIn { logger.info("template added", metadata: ["id": "\(id)", "file": "\(path)"]) }
            } catch {
                logger.error("a template file is broken; skipped", metadata: ["file": "\(path)", "error": "\(error)"])
            }
        }
        for (id, path) in (try? ChartTemplate.charts(in: folder)) ?? [] {
            var template = await Template.loadChart(id: id, path: path)
            template.source = source.rawValue
            if let problem = template.problem {
                logger.warning("a chart template cannot be used", metadata: ["chart": "\(path)", "problem": "\(problem)"])
            }
            entries.append(CatalogueEntry(template: template, source: source, yaml: nil, modified: nil, replaces: nil))
        }
        return entries
    }

    /// The built-ins and folders as plain templates (what the first catalogue was).
    static func load(builtins: [Template], folders: String?, logger: Logger) async -> [Template] {
        let base = builtins.map { CatalogueEntry(template: $0, source: .builtIn, yaml: nil, modified: nil, replaces: nil) }
        return merge(base, await loadBase(builtinFolder: nil, folders: folders, logger: logger)).map(\.template)
    }
}
