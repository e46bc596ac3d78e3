import Foundation

/// The exit codes scripts can rely on (also listed in `knotctl --help` and docs/knotctl.md).
enum ExitStatus: Int32 {
    case ok = 0
    /// Anything else that went wrong: an API error, a network failure, a local file problem.
    case failure = 1
    /// The command line itself was wrong (the argument parser's verdict).
    case usage = 2
    /// Not logged in, or the API said 401/403.
    case unauthorised = 3
    /// The API said 404.
    case notFound = 4
    /// The API said 409.
    case conflict = 5

    /// The exit status an API answer's HTTP status maps to.
    static func forHTTPStatus(_ status: Int) -> ExitStatus {
        switch status {
        case 401, 403: .unauthorised
        case 404: .notFound
        case 409: .conflict
        default: .failure
        }
    }
}

/// An error that ends the command: its message goes to standard error, its status is the exit code.
struct KnotctlError: Error, CustomStringConvertible {
    var message: String
    var status: ExitStatus
    /// The API's error code when the error came from the API (`not_found`, `exists`…).
    var code: String?
    var httpStatus: Int?

    init(_ message: String, status: ExitStatus = .failure, code: String? = nil, httpStatus: Int? = nil) {
        self.message = message
        self.status = status
        self.code = code
        self.httpStatus = httpStatus
    }

    var description: String { message }

    static func usage(_ message: String) -> KnotctlError { KnotctlError(message, status: .usage) }

    /// An API answer that is not a success: the API's own message when it sent Knot's error shape.
    static func fromAPI(status: Int, body: Data) -> KnotctlError {
        var code: String?
        var message: String?
        if let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
            let error = object["error"] as? [String: Any]
        {
            code = error["code"] as? String
            message = error["message"] as? String
        }
        let fallback: String =
            switch status {
            case 401: "not logged in, or the token is no longer valid (run knotctl login)"
            case 403: "not allowed"
            case 404: "not found"
            case 409: "conflict"
            case 413: "too large"
            case 502, 503, 504: "Knot is not answering (HTTP \(status)); try again in a moment"
            default: "the API answered HTTP \(status)"
            }
        return KnotctlError(
            message.flatMap { $0.isEmpty ? nil : $0 } ?? fallback, status: .forHTTPStatus(status), code: code, httpStatus: status)
    }
}
