import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOSSL

/// The edge's TLS context, rebuilt when the certificate or key file changes.
/// Each new connection takes the context current when it arrives; open
/// connections keep theirs, so a renewal drops nobody.
final class TLSContextStore: Sendable {
    let certificatePath: String
    let keyPath: String
    private let state: NIOLockedValueBox<(context: NIOSSLContext, stamp: PairStamp)>
    private let logger: Logger

    /// Both files' stamps: a change in either means reload.
    struct PairStamp: Equatable {
        var certificate: FileStamp?
        var key: FileStamp?

        init(certificate: String, key: String) {
            self.certificate = FileStamp(path: certificate)
            self.key = FileStamp(path: key)
        }
    }

    init(certificatePath: String, keyPath: String, logger: Logger) throws {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.logger = logger
        let stamp = PairStamp(certificate: certificatePath, key: keyPath)
        state = NIOLockedValueBox((try Self.makeContext(certificate: certificatePath, key: keyPath), stamp))
    }

    var current: NIOSSLContext { state.withLockedValue { $0.context } }

    /// Only TLS 1.2 and 1.3, and in 1.2 only forward-secret AEAD suites (TLS 1.3's are all AEAD).
    static let tls12Ciphers: [NIOTLSCipher] = [
        .TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, .TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        .TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, .TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        .TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, .TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ]

    static func makeContext(certificate: String, key: String) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
        configuration.minimumTLSVersion = .tlsv12
        configuration.cipherSuiteValues = tls12Ciphers
        configuration.applicationProtocols = ["h2", "http/1.1"]
        return try NIOSSLContext(configuration: configuration)
    }

    /// Rebuilds the context if either file changed. A half-written pair (a
    /// key that does not match the certificate, say) is logged and the old
    /// context kept; the next check tries again.
    func reloadIfChanged() {
        let stamp = PairStamp(certificate: certificatePath, key: keyPath)
        guard stamp != state.withLockedValue({ $0.stamp }) else { return }
        do {
            let context = try Self.makeContext(certificate: certificatePath, key: keyPath)
            state.withLockedValue { $0 = (context, stamp) }
            logger.notice("TLS certificate reloaded", metadata: ["certificate": "\(certificatePath)"])
        } catch {
            logger.warning("TLS certificate changed but could not be loaded; keeping the old one", metadata: ["error": "\(error)"])
        }
    }
}
