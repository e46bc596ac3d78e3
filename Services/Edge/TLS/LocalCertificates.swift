import Crypto
import Foundation
import SwiftASN1
import X509

/// For local use: a private CA and a certificate for `<domain>` and
/// `*.<domain>` signed by it, made once and kept in the data folder so that
/// a browser or client told to trust the CA keeps trusting it across restarts.
enum LocalCertificates {
    struct Paths {
        var folder: String
        var caCertificate: String { folder + "/ca.pem" }
        var certificate: String { folder + "/server.pem" }
        var privateKey: String { folder + "/server-key.pem" }
    }

    /// Returns the paths of the certificate chain and key, creating them if needed.
    static func ensure(folder: String, domain: String) throws -> Paths {
        let paths = Paths(folder: folder)
        let fm = FileManager.default
        if fm.fileExists(atPath: paths.certificate), fm.fileExists(atPath: paths.privateKey), fm.fileExists(atPath: paths.caCertificate),
            let existing = try? String(contentsOfFile: paths.certificate, encoding: .utf8),
            let leaf = existing.components(separatedBy: "-----END CERTIFICATE-----").first,
            let certificate = try? Certificate(pemEncoded: leaf + "-----END CERTIFICATE-----\n"),
            certificate.notValidAfter > Date().addingTimeInterval(7 * 86400),
            (try? certificate.extensions.subjectAlternativeNames)??.contains(.dnsName("*." + domain)) == true
        {
            return paths
        }
        try fm.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])

        let now = Date()
        let caKey = P256.Signing.PrivateKey()
        let caName = try DistinguishedName {
            OrganizationName("Knot")
            CommonName("Knot local CA (\(domain))")
        }
        let ca = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(caKey.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(10 * 365 * 86400),
            issuer: caName, subject: caName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                NameConstraints(permittedDNSDomains: [domain])
            },
            issuerPrivateKey: .init(caKey))

        let serverKey = P256.Signing.PrivateKey()
        let serverName = try DistinguishedName { CommonName(domain) }
        let server = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(serverKey.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(397 * 86400),
            issuer: caName, subject: serverName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames([.dnsName(domain), .dnsName("*." + domain)])
            },
            issuerPrivateKey: .init(caKey))

        let caPEM = try ca.serializeAsPEM().pemString
        try write(caPEM + "\n", to: paths.caCertificate, mode: 0o644)
        try write(try server.serializeAsPEM().pemString + "\n" + caPEM + "\n", to: paths.certificate, mode: 0o644)
        try write(serverKey.pemRepresentation + "\n", to: paths.privateKey, mode: 0o600)
        return paths
    }

    static func write(_ text: String, to path: String, mode: Int) throws {
        let temporary = path + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: mode]) else {
            throw CocoaError(.fileWriteUnknown)
        }
        if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
        try FileManager.default.moveItem(atPath: temporary, toPath: path)
    }
}
