"""The double's PKI (a CA, a server and a client certificate) and the kubeconfigs that point at it.

Files already in the directory are reused, so a restarted double keeps the trust of clients
that were configured against the previous run.
"""
import base64
import datetime
import ipaddress
import os

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _write(path, data, mode=0o600):
    """Atomic: a reader polling for the file never sees half of it."""
    tmp = path + ".tmp%d" % os.getpid()
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _new_key(key_type):
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _load(path_crt, path_key):
    with open(path_crt, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    with open(path_key, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    return cert, key


def _builder(subject, issuer, public_key, days):
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=days)))


def _key_usage(ca=False, encipher=False):
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=encipher,
                         data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                         encipher_only=False, decipher_only=False)


def ensure_pki(directory, key_type="ec"):
    paths = {n: os.path.join(directory, n) for n in
             ("ca.crt", "ca.key", "server.crt", "server.key", "client.crt", "client.key")}
    if os.path.exists(paths["ca.crt"]) and os.path.exists(paths["ca.key"]):
        ca_cert, ca_key = _load(paths["ca.crt"], paths["ca.key"])
    else:
        ca_key = _new_key(key_type)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-double-ca")])
        ca_cert = (_builder(name, name, ca_key.public_key(), 3650)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .add_extension(_key_usage(ca=True), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
                   .sign(ca_key, hashes.SHA256()))
        _write(paths["ca.key"], _key_pem(ca_key))
        _write(paths["ca.crt"], ca_cert.public_bytes(serialization.Encoding.PEM), 0o644)
        # A new CA invalidates certificates signed by an old one.
        for n in ("server.crt", "server.key", "client.crt", "client.key"):
            if os.path.exists(paths[n]):
                os.remove(paths[n])
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    rsa_key = key_type == "rsa"
    if not (os.path.exists(paths["server.crt"]) and os.path.exists(paths["server.key"])):
        key = _new_key(key_type)
        cert = (_builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]), ca_cert.subject,
                         key.public_key(), 3650)
                .add_extension(x509.SubjectAlternativeName([
                    x509.DNSName("localhost"), x509.DNSName("kubernetes"), x509.DNSName("kubernetes.default"),
                    x509.DNSName("kubernetes.default.svc"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1"))]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(_key_usage(encipher=rsa_key), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(aki, critical=False)
                .sign(ca_key, hashes.SHA256()))
        _write(paths["server.key"], _key_pem(key))
        _write(paths["server.crt"], cert.public_bytes(serialization.Encoding.PEM), 0o644)
    if not (os.path.exists(paths["client.crt"]) and os.path.exists(paths["client.key"])):
        key = _new_key(key_type)
        subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"),
                             x509.NameAttribute(NameOID.COMMON_NAME, "knot-client")])
        cert = (_builder(subject, ca_cert.subject, key.public_key(), 3650)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(_key_usage(encipher=rsa_key), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .add_extension(aki, critical=False)
                .sign(ca_key, hashes.SHA256()))
        _write(paths["client.key"], _key_pem(key))
        _write(paths["client.crt"], cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return paths


def _b64(path):
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


def write_kubeconfigs(directory, port, token):
    server = "https://127.0.0.1:%d" % port
    ca = os.path.join(directory, "ca.crt")

    def config(cluster, user_name, user):
        return {"apiVersion": "v1", "kind": "Config", "preferences": {},
                "clusters": [{"name": "double", "cluster": dict(server=server, **cluster)}],
                "users": [{"name": user_name, "user": user}],
                "contexts": [{"name": "double", "context": {"cluster": "double", "user": user_name}}],
                "current-context": "double"}

    embedded = {"certificate-authority-data": _b64(ca)}
    files = {
        "kubeconfig": config(embedded, "double-token", {"token": token}),
        "kubeconfig-cert": config(embedded, "double-cert", {
            "client-certificate-data": _b64(os.path.join(directory, "client.crt")),
            "client-key-data": _b64(os.path.join(directory, "client.key"))}),
        "kubeconfig-files": config({"certificate-authority": ca}, "double-cert-files", {
            "client-certificate": os.path.join(directory, "client.crt"),
            "client-key": os.path.join(directory, "client.key")}),
    }
    for name, content in files.items():
        _write(os.path.join(directory, name), yaml.safe_dump(content, sort_keys=False).encode())
    _write(os.path.join(directory, "port"), ("%d\n" % port).encode(), 0o644)
