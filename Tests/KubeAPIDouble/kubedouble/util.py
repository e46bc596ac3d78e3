"""Small helpers shared by every module: copying, time, names, quantities."""
import base64
import datetime
import json
import random
import re
import time


# Stored objects are never mutated in place (readers serialise them without the
# lock), so every writer works on a copy. A hand-written copy of JSON-shaped
# data is several times faster than copy.deepcopy.
def clone(value):
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) for v in value]
    return value


def dumps(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


_last_second = (None, None)


def now_rfc3339(t=None):
    """RFC 3339 with second precision and a Z, as the API server writes metav1.Time (cached per second)."""
    global _last_second
    second = int(time.time() if t is None else t)
    cached = _last_second  # one tuple, read once: safe without a lock
    if cached[0] == second:
        return cached[1]
    text = datetime.datetime.fromtimestamp(second, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    _last_second = (second, text)
    return text


def now_rfc3339_micro(t=None):
    """metav1.MicroTime, used by event.eventTime."""
    if t is None:
        t = time.time()
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_rfc3339_nano(t):
    """The timestamp kubelet puts in front of log lines with ?timestamps=true."""
    dt = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%09dZ" % int(round((t % 1) * 1e9) % 1_000_000_000)


def parse_rfc3339(text):
    if not text:
        return None
    try:
        text = text.replace("Z", "+00:00")
        return datetime.datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


# The alphabet Kubernetes uses for generated suffixes (k8s.io/apimachinery/pkg/util/rand):
# no vowels and no confusable characters, so generated names never spell words.
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_random = random.Random()


def random_suffix(n=5):
    return "".join(_random.choice(SAFE_ALPHABET) for _ in range(n))


def safe_hash(text, n=10):
    """A deterministic n-character name fragment (pod-template-hash)."""
    import hashlib
    digest = hashlib.sha256(text.encode()).digest()
    return "".join(SAFE_ALPHABET[b % len(SAFE_ALPHABET)] for b in digest[:n])


def human_duration(seconds):
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration, used for AGE columns."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return "%ds" % s
    minutes = s // 60
    if minutes < 10:
        r = s % 60
        return "%dm" % minutes if r == 0 else "%dm%ds" % (minutes, r)
    if minutes < 180:
        return "%dm" % minutes
    hours = s // 3600
    if hours < 8:
        m = minutes % 60
        return "%dh" % hours if m == 0 else "%dh%dm" % (hours, m)
    if hours < 48:
        return "%dh" % hours
    if hours < 24 * 8:
        h = hours % 24
        return "%dd" % (hours // 24) if h == 0 else "%dd%dh" % (hours // 24, h)
    if hours < 24 * 365 * 2:
        return "%dd" % (hours // 24)
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return "%dy" % (hours // 24 // 365) if dy == 0 else "%dy%dd" % (hours // 24 // 365, dy)
    return "%dy" % (hours // 24 // 365)


def age(obj, now=None):
    created = parse_rfc3339((obj.get("metadata") or {}).get("creationTimestamp"))
    if created is None:
        return "<unknown>"
    return human_duration((now or time.time()) - created)


_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eE][+-]?[0-9]+|[numkMGTPE]|[KMGTPE]i)?$")
_SUFFIX = {
    None: 1, "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
    "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60,
}


def parse_quantity(value):
    """resource.Quantity as a float, or None when it is not one."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        return None
    m = _QUANTITY.match(value.strip())
    if not m:
        return None
    try:
        number = float(m.group(1))
    except ValueError:
        return None
    suffix = m.group(2)
    if suffix and suffix[0] in "eE":
        return number * (10 ** int(suffix[1:]))
    return number * _SUFFIX[suffix]


def b64decode_strict(text):
    return base64.b64decode(text, validate=True)


def is_true(value):
    return str(value).lower() in ("1", "true", "yes")
