import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// A service's OpenAPI 3.1 document for its public API (`/api/v1/<area>/…`),
/// kept as JSON text inside the binary so no resource bundle has to travel
/// with the executable or its image.
///
/// It is served at `GET /api/v1/<area>/openapi.json` inside the user-API group,
/// so like every other `/api/v1` route it needs a signed-in caller: the edge
/// already demands a session or API token for all of `/api/`, and a service
/// reached directly keeps the rule "no `/api/v1` answer without an assertion".
///
/// `OpenAPIRouteTests` keeps each document true: it compares the operations
/// listed here with the routes the service's router really registers.
public struct OpenAPIDocument: Sendable {
    /// One operation as the router knows it: a method and a Hummingbird path
    /// template, which Hummingbird writes as OpenAPI does for captures
    /// (`/api/v1/users/{username}`) and with `**` for a catch-all (`/api/v1/files/**`).
    public struct Operation: Hashable, Sendable, CustomStringConvertible, Comparable {
        public var method: String
        public var path: String
        public init(method: String, path: String) {
            self.method = method.uppercased()
            self.path = path
        }
        public var description: String { "\(method) \(path)" }
        public static func < (a: Operation, b: Operation) -> Bool { (a.path, a.method) < (b.path, b.method) }
    }

    /// The document, as served: the area's own part with the shared part merged in.
    public let json: String

    /// `json` is the area's own part: info, paths and its schemas. What every
    /// area says alike (the edge as server, the two ways to sign in, Knot's one
    /// error shape as `#/components/responses/Error` and `#/components/schemas/Error`)
    /// comes from `sharedJSON`; a key the area sets itself wins.
    public init(json: String) {
        self.json = Self.merging(shared: Self.sharedJSON, into: json)
    }

    static func merging(shared: String, into area: String) -> String {
        // The documents are constants in the binaries; one that does not parse is
        // served as written, and OpenAPIRouteTests fails on it.
        guard let common = try? JSONSerialization.jsonObject(with: Data(shared.utf8)) as? [String: Any],
            let own = try? JSONSerialization.jsonObject(with: Data(area.utf8)) as? [String: Any],
            let merged = try? JSONSerialization.data(
                withJSONObject: deepMerge(common, own), options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        else { return area }
        return String(decoding: merged, as: UTF8.self)
    }

    /// Objects merge key by key; anything else is taken from `own`.
    static func deepMerge(_ base: [String: Any], _ own: [String: Any]) -> [String: Any] {
        base.merging(own) { common, mine in
            if let common = common as? [String: Any], let mine = mine as? [String: Any] { return deepMerge(common, mine) }
            return mine
        }
    }

    static let sharedJSON = #"""
{
  "servers": [
    {
      "url": "/",
      "description": "the edge: the dashboard's own address"
    }
  ],
  "security": [
    {
      "session": []
    },
    {
      "apiToken": []
    }
  ],
  "components": {
    "securitySchemes": {
      "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "knot_session",
        "description": "The browser session identity sets at sign-in."
      },
      "apiToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "A personal API token (knot_pat_…), made at POST /api/v1/identity/tokens."
      }
    },
    "responses": {
      "Error": {
        "description": "Any failure, in Knot's one error shape.",
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/Error"
            }
          }
        }
      }
    },
    "schemas": {
      "Error": {
        "type": "object",
        "properties": {
          "error": {
            "type": "object",
            "properties": {
              "code": {
                "type": "string",
                "description": "A stable, machine-readable code (not_found, invalid_json, quota_exceeded, corrupt_archive, …)."
              },
              "message": {
                "type": "string",
                "description": "What was wrong, in words."
              }
            },
            "required": [
              "code",
              "message"
            ]
          }
        },
        "required": [
          "error"
        ]
      }
    }
  }
}
"""#

    /// Adds `GET openapi.json` to a service's public API group.
    public func register(on api: RouterGroup<KnotRequestContext>) {
        let bytes = ByteBuffer(string: json)
        api.get("openapi.json") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-cache"],
                body: .init(byteBuffer: bytes))
        }
    }

    /// The operations the document describes, in the router's terms. A path
    /// item may name its router template in `x-knot-route` where OpenAPI
    /// cannot express it (files' `**` catch-all); otherwise the path is the template.
    public func operations() throws -> Set<Operation> {
        guard let root = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
            let paths = root["paths"] as? [String: Any]
        else { throw DocumentError(message: "the document has no paths object") }
        let methods: Set<String> = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]
        var found = Set<Operation>()
        for (path, value) in paths {
            guard let item = value as? [String: Any] else { throw DocumentError(message: "\(path) is not a path item") }
            let routerPath = (item["x-knot-route"] as? String) ?? path
            for key in item.keys where methods.contains(key) {
                found.insert(Operation(method: key, path: routerPath))
            }
        }
        return found
    }

    public struct DocumentError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }
}
