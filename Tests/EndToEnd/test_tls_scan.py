"""The edge's TLS is modern: only TLS 1.2 and 1.3, no weak cipher, ALPN for
HTTP/2 and HTTP/1.1.

Debian's `sslscan` scans the running edge (scripts/test installs it; the scan
is skipped, saying so, only where it is missing). sslscan offers only what
the local OpenSSL knows, and Debian's OpenSSL 3 has no RC4, DES, 3DES or
EXPORT suites at all, so those are also offered on the wire by a hand-made
TLS 1.2 ClientHello, next to a modern suite that the edge must accept (so
that the probe cannot pass by being refused for being malformed). A TLS 1.1
handshake is tried with Python's ssl module, which can offer TLS 1.1 at
security level 0."""
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import warnings
import xml.etree.ElementTree as ElementTree
from urllib.parse import urlsplit

import pytest


def edge_address(knot):
    """The edge's host name and port, from knot.url (the host is *.localhost: always loopback)."""
    parts = urlsplit(knot.url)
    return parts.hostname, parts.port or 443


# ---- sslscan --------------------------------------------------------------

def weakness(cipher):
    """Why an accepted cipher is weak, or None. `cipher` is sslscan's <cipher> element."""
    name = cipher.get("cipher", "")
    tokens = set(re.split(r"[-_]", name.upper()))
    bits = int(cipher.get("bits", "0") or 0)
    aead = bool(tokens & {"GCM", "CCM", "CCM8", "CHACHA20", "POLY1305"})
    if tokens & {"NULL", "ENULL"} or bits == 0:
        return "NULL encryption"
    if any(t.startswith("EXP") for t in tokens):
        return "EXPORT"
    if "RC4" in tokens:
        return "RC4"
    if tokens & {"DES", "3DES", "DES40", "EDE", "CBC3"}:
        return "DES/3DES"
    if "MD5" in tokens:
        return "MD5"
    if cipher.get("strength") == "anonymous" or tokens & {"ADH", "AECDH", "ANON", "ANULL"}:
        return "anonymous (no authentication)"
    # OpenSSL names CBC suites without "CBC": "...-AES128-SHA" is AES-CBC with HMAC-SHA1.
    if not aead and name.upper().endswith(("-SHA", "_SHA", "-SHA1", "_SHA1")):
        return "CBC mode with SHA1"
    if bits < 128:
        return f"{bits}-bit"
    return None


@pytest.fixture(scope="module")
def scan(knot):
    sslscan = shutil.which("sslscan")
    if sslscan is None:
        pytest.skip("sslscan is not installed here (Debian package sslscan; scripts/test and CI install it)")
    host, port = edge_address(knot)
    result = subprocess.run(
        [sslscan, "--xml=-", "--no-colour", f"--sni-name={host}", "--timeout=5", f"127.0.0.1:{port}"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"sslscan failed ({result.returncode}): {result.stderr[-2000:]}"
    start = result.stdout.find("<?xml")
    assert start >= 0, f"sslscan printed no XML: {result.stdout[-2000:]}"
    document = ElementTree.fromstring(result.stdout[start:])
    test = document.find("ssltest")
    assert test is not None, f"sslscan could not scan {host}:{port}: {result.stdout[-2000:]}"
    return test


def protocols(test):
    return {f"{p.get('type')}{p.get('version')}": p.get("enabled") == "1" for p in test.findall("protocol")}


def test_only_tls12_and_tls13_are_enabled(scan):
    found = protocols(scan)
    assert found, "sslscan reported no protocol"
    for old in ("ssl2", "ssl3", "tls1.0", "tls1.1"):
        assert found.get(old) is False, f"{old} is not disabled: {found}"
    for modern in ("tls1.2", "tls1.3"):
        assert found.get(modern) is True, f"{modern} is not enabled: {found}"


def test_no_weak_cipher_is_accepted(scan):
    accepted = [c for c in scan.findall("cipher") if c.get("status") in ("accepted", "preferred")]
    assert any(c.get("sslversion") == "TLSv1.2" for c in accepted), "no TLS 1.2 cipher accepted at all"
    assert any(c.get("sslversion") == "TLSv1.3" for c in accepted), "no TLS 1.3 cipher accepted at all"
    weak = [f"{c.get('sslversion')} {c.get('cipher')} ({c.get('bits')} bits): {weakness(c)}" for c in accepted if weakness(c)]
    assert not weak, "weak ciphers accepted:\n  " + "\n  ".join(weak)


def test_the_weakness_rules_catch_weak_ciphers():
    # The rules above, on names as sslscan prints them: a rule that matched nothing would pass any scan.
    def cipher(name, bits="128", strength="medium"):
        return ElementTree.Element("cipher", {"cipher": name, "bits": bits, "strength": strength})
    for name, bits, strength in [
        ("NULL-SHA256", "0", "null"), ("EXP-RC4-MD5", "40", "weak"), ("RC4-SHA", "128", "medium"),
        ("DES-CBC3-SHA", "112", "medium"), ("EDH-RSA-DES-CBC-SHA", "56", "weak"), ("AECDH-AES128-SHA", "128", "anonymous"),
        ("ECDHE-ECDSA-AES128-SHA", "128", "acceptable"), ("AES256-SHA", "256", "acceptable"),
        ("TLS_RSA_WITH_3DES_EDE_CBC_SHA", "112", "medium"),
    ]:
        assert weakness(cipher(name, bits, strength)), name
    for name, bits in [("ECDHE-ECDSA-AES128-GCM-SHA256", "128"), ("ECDHE-ECDSA-CHACHA20-POLY1305", "256"),
                       ("TLS_AES_256_GCM_SHA384", "256"), ("ECDHE-ECDSA-AES256-SHA384", "256")]:
        assert weakness(cipher(name, bits, "strong")) is None, name


# ---- suites the local OpenSSL cannot offer, on the wire -------------------

MODERN = [0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8]  # ECDHE-{ECDSA,RSA} with AES-GCM / ChaCha20-Poly1305
WEAK = {
    "RC4": [0x0004, 0x0005, 0x0018, 0xC002, 0xC007, 0xC00C, 0xC011, 0xC016],
    "EXPORT": [0x0003, 0x0006, 0x0008, 0x000B, 0x000E, 0x0011, 0x0014, 0x0017, 0x0019],
    "DES": [0x0009, 0x000C, 0x000F, 0x0012, 0x0015, 0x001A],
    "3DES": [0x000A, 0x000D, 0x0010, 0x0013, 0x0016, 0x001B, 0xC003, 0xC008, 0xC00D, 0xC012, 0xC017],
    "NULL": [0x0001, 0x0002, 0x003B, 0xC001, 0xC006, 0xC00B, 0xC010, 0xC015],
    "anonymous": [0x0034, 0x003A, 0x006C, 0x006D, 0x00A6, 0x00A7, 0xC018, 0xC019],
    "CBC with SHA1": [0x002F, 0x0035, 0x0033, 0x0039, 0x0032, 0x0038, 0xC004, 0xC005, 0xC009, 0xC00A, 0xC013, 0xC014,
                      0x0041, 0x0084, 0x0045, 0x0088, 0x0096],
}


def client_hello(host, suites):
    """A TLS 1.2 ClientHello (no supported_versions: TLS 1.3 cannot be chosen) offering `suites`."""
    def ext(kind, data):
        return struct.pack(">HH", kind, len(data)) + data

    name = host.encode()
    server_name = struct.pack(">HBH", len(name) + 3, 0, len(name)) + name
    groups = struct.pack(">H3H", 6, 0x001D, 0x0017, 0x0018)
    algorithms = [0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0203, 0x0201]
    signatures = struct.pack(f">H{len(algorithms)}H", 2 * len(algorithms), *algorithms)
    extensions = (ext(0x0000, server_name) + ext(0x000A, groups) + ext(0x000B, b"\x01\x00")
                  + ext(0x000D, signatures) + ext(0xFF01, b"\x00"))
    body = (b"\x03\x03" + os.urandom(32) + b"\x00" + struct.pack(">H", 2 * len(suites))
            + struct.pack(f">{len(suites)}H", *suites) + b"\x01\x00" + struct.pack(">H", len(extensions)) + extensions)
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack(">H", len(handshake)) + handshake


def read_exactly(sock, count):
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            break
        data += chunk
    return data


def chosen_suite(knot, suites):
    """The suite the edge's ServerHello picks from `suites`, or None when it refuses (alert or close)."""
    host, port = edge_address(knot)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(client_hello(host, suites))
        try:
            header = read_exactly(sock, 5)
            if len(header) < 5 or header[0] != 0x16:
                return None  # an alert (0x15) or the connection closed
            record = read_exactly(sock, struct.unpack(">H", header[3:5])[0])
        except (ConnectionResetError, socket.timeout):
            return None
    if len(record) < 4 or record[0] != 0x02:
        return None
    session_id_length = record[4 + 2 + 32]
    offset = 4 + 2 + 32 + 1 + session_id_length
    return struct.unpack(">H", record[offset:offset + 2])[0]


def test_the_hand_made_hello_is_answered_with_a_modern_suite(knot):
    suite = chosen_suite(knot, MODERN)
    assert suite in MODERN, f"the edge did not take a modern TLS 1.2 suite from a hand-made ClientHello (got {suite})"


@pytest.mark.parametrize("kind", sorted(WEAK))
def test_weak_suites_are_refused_on_the_wire(knot, kind):
    suite = chosen_suite(knot, WEAK[kind])
    assert suite is None, f"the edge accepted a suite of the kind {kind}: 0x{suite:04X}"


# ---- Python's ssl module --------------------------------------------------

def handshake(knot, context):
    host, port = edge_address(knot)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        with context.wrap_socket(sock, server_hostname=host) as tls:
            return tls.version(), tls.selected_alpn_protocol()


def test_a_tls11_handshake_is_refused(knot):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(knot.ca)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            context.minimum_version = ssl.TLSVersion.TLSv1_1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
            context.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL 3 offers TLS 1.1 only at level 0
        except (ValueError, ssl.SSLError) as error:
            pytest.skip(f"this Python's OpenSSL cannot offer TLS 1.1: {error}")
    with pytest.raises(ssl.SSLError) as refused:
        handshake(knot, context)
    # A refusal by the local library (nothing offered) would prove nothing about the edge.
    assert "NO_PROTOCOLS_AVAILABLE" not in str(refused.value) and "NO_CIPHERS_AVAILABLE" not in str(refused.value), refused.value


def test_alpn_offers_h2_and_http11(knot):
    def negotiated(offer):
        context = ssl.create_default_context(cafile=knot.ca)
        context.set_alpn_protocols(offer)
        return handshake(knot, context)

    version, protocol = negotiated(["h2", "http/1.1"])
    assert version in ("TLSv1.2", "TLSv1.3")
    assert protocol == "h2", f"h2 not chosen when offered first (got {protocol!r})"
    assert negotiated(["h2"])[1] == "h2"
    assert negotiated(["http/1.1"])[1] == "http/1.1", "http/1.1 is not offered by the edge"
    # TLS 1.2 alone still works, with ALPN.
    context = ssl.create_default_context(cafile=knot.ca)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["h2", "http/1.1"])
    assert handshake(knot, context) == ("TLSv1.2", "h2")
