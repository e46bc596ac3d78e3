import Foundation
import Logging

/// The built-in catalogue, shipped with the launcher.
enum BuiltinTemplates {
    static func load() throws -> [Template] {
        guard let folder = Bundle.module.url(forResource: "BuiltinTemplates", withExtension: nil) else { return [] }
        return try Template.files(in: folder.path).map { try Template.load(id: $0.id, path: $0.path) }
    }
}

/// The whole catalogue: the built-ins, then every `*.template.yaml` in the
/// folders of `KNOT_TEMPLATE_DIRS` (colon-separated, absolute), in that order;
/// a later template with the same id replaces an earlier one. A file that
/// cannot be read or parsed is logged and left out, never fatal.
enum TemplateCatalogue {
    static let variable = "KNOT_TEMPLATE_DIRS"

    static func load(builtins: [Template], folders: String?, logger: Logger) -> [Template] {
        var catalogue = builtins
        for folder in (folders ?? "").split(separator: ":").map(String.init) where !folder.isEmpty {
            guard folder.hasPrefix("/") else {
                logger.error("\(variable): not an absolute folder; skipped", metadata: ["folder": "\(folder)"])
                continue
            }
            let files: [(id: String, path: String)]
            do {
                files = try Template.files(in: folder)
            } catch {
                logger.error("\(variable): cannot read a template folder; skipped", metadata: ["folder": "\(folder)", "error": "\(error)"])
                continue
            }
            for (id, path) in files {
                do {
                    var template = try Template.load(id: id, path: path)
                    template.source = "folder"
                    catalogue.removeAll { $0.id == template.id }
                    catalogue.append(template)
                    logger.info("template added", metadata: ["id": "\(template.id)", "file": "\(path)"])
                } catch {
                    logger.error("a template file is broken; skipped", metadata: ["file": "\(path)", "error": "\(error)"])
                }
            }
        }
        return catalogue
    }
}
