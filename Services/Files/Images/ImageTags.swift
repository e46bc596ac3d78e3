import Foundation
import KnotErrors

/// A repository's tags with what the dashboard shows: digest, size (config
/// plus layers, as stored, so compressed), and the creation date and
/// platform from the image config. Four tags are looked up at a time.
struct ImageTags: Sendable {
    let client: RegistryClient
    static let maxTags = 200

    struct Tag: Encodable, Sendable {
        var tag: String
        var digest: String
        var mediaType: String
        var size: Int64?
        var created: String?
        var platform: String?
        enum CodingKeys: String, CodingKey {
            case tag, digest, size, created, platform
            case mediaType = "media_type"
        }
    }

    func details(_ repository: String) async throws -> [Tag] {
        let names = Array(try await client.tags(repository).sorted().prefix(Self.maxTags))
        var found: [Tag] = []
        var start = 0
        while start < names.count {
            let batch = names[start..<min(start + 4, names.count)]
            try await withThrowingTaskGroup(of: Tag?.self) { group in
                for name in batch { group.addTask { try await detail(repository, name) } }
                for try await tag in group { if let tag { found.append(tag) } }
            }
            start += 4
        }
        return found.sorted { $0.tag < $1.tag }
    }

    struct Manifest: Decodable {
        struct Descriptor: Decodable { var digest: String; var size: Int64 }
        var config: Descriptor?
        var layers: [Descriptor]?
        var manifests: [Descriptor]?
    }

    struct Config: Decodable {
        var created: String?
        var os: String?
        var architecture: String?
    }

    func detail(_ repository: String, _ name: String) async throws -> Tag? {
        let manifest: RegistryClient.Manifest
        do {
            manifest = try await client.manifest(repository, name)
        } catch let error as KnotError where error.status == .notFound {
            return nil  // deleted meanwhile
        }
        var tag = Tag(tag: name, digest: manifest.digest, mediaType: manifest.mediaType)
        guard let parsed = try? JSONDecoder().decode(Manifest.self, from: manifest.body) else { return tag }
        if parsed.manifests != nil {
            tag.platform = "multi-platform"
            return tag
        }
        guard let config = parsed.config else { return tag }
        tag.size = config.size + (parsed.layers ?? []).reduce(0) { $0 + $1.size }
        if let data = try? await client.smallBlob(repository, config.digest, limit: 4 << 20),
            let decoded = try? JSONDecoder().decode(Config.self, from: data)
        {
            tag.created = decoded.created
            tag.platform = [decoded.os, decoded.architecture].compactMap { $0 }.joined(separator: "/")
        }
        return tag
    }
}
