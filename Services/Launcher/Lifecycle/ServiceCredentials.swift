import Foundation
import KnotInternalClient
import Logging

/// A personal API token for each service, so that `knotctl` inside it acts
/// as the owner with no setup (`KNOT_TOKEN` beside `KNOT_URL`; docs/knotctl.md).
/// Identity mints it (`POST /internal/v1/service-tokens`, launcher only), named
/// `service:<name>` in the owner's token list, at every start (revoking the
/// previous one), and revokes it when the service is deleted. The secret is
/// never stored by the launcher: it goes straight to the runtime, which keeps
/// it in a Kubernetes Secret or the local process's environment.
///
/// A token that cannot be minted (identity down, the person's 50-token limit)
/// does not stop the launch: the service starts without `KNOT_TOKEN`, and the
/// reason is logged.
struct ServiceCredentials: Sendable {
    let identity: InternalClient
    let logger: Logger

    private struct Request: Encodable {
        var username: String
        var service: String
    }

    private struct Minted: Decodable {
        var token: String
    }

    /// The secret variables for one start of the service.
    func mint(owner: String, service: String) async -> [String: String] {
        do {
            let minted = try await identity.post(
                "/internal/v1/service-tokens", body: Request(username: owner, service: service), as: Minted.self)
            return ["KNOT_TOKEN": minted.token]
        } catch {
            logger.warning(
                "no API token for the service; it starts without KNOT_TOKEN",
                metadata: ["owner": "\(owner)", "service": "\(service)", "error": "\(error)"])
            return [:]
        }
    }

    func revoke(owner: String, service: String) async {
        do {
            _ = try await identity.post(
                "/internal/v1/service-tokens/revoke", body: Request(username: owner, service: service), as: [String: Int].self)
        } catch {
            logger.warning(
                "the service's API token could not be revoked", metadata: ["owner": "\(owner)", "service": "\(service)", "error": "\(error)"])
        }
    }
}
