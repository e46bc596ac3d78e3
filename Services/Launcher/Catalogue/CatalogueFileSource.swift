import Foundation
import KnotErrors
import KnotInternalClient
import KnotModels

/// The file domains' part of the catalogue. The files service owns those
/// folders, so the launcher reads and writes them through its internal API.
protocol CatalogueFileSource: Sendable {
    /// The template files of the admin, shared and `user`'s private `services/` folders.
    func files(of user: String) async throws -> [CatalogueFile]
    /// Writes `name` in `user`'s private `services/`; a `KnotError` 409 (`exists`) when it is there and not `overwrite`.
    func save(_ content: String, name: String, of user: String, overwrite: Bool) async throws
    /// Removes `name` from `user`'s private `services/`; a `KnotError` 404 when absent.
    func remove(name: String, of user: String) async throws
}

/// `CatalogueFileSource` over the files service's `/internal/v1/catalogue`.
struct FilesServiceCatalogue: CatalogueFileSource {
    let client: InternalClient

    struct Listing: Decodable { var files: [CatalogueFile] }
    struct Written: Decodable {}

    func files(of user: String) async throws -> [CatalogueFile] {
        try await client.get("/internal/v1/catalogue/\(Self.segment(user))", as: Listing.self).files
    }

    func save(_ content: String, name: String, of user: String, overwrite: Bool) async throws {
        _ = try await client.send(
            .PUT, "/internal/v1/catalogue/\(Self.segment(user))/\(Self.segment(name))",
            body: CatalogueWrite(content: content, overwrite: overwrite), as: Written.self, assertion: nil)
    }

    func remove(name: String, of user: String) async throws {
        try await client.delete("/internal/v1/catalogue/\(Self.segment(user))/\(Self.segment(name))")
    }

    static func segment(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._"))) ?? text
    }
}
