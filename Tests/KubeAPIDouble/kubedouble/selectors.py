"""Label and field selectors, in the string syntax of list/watch query parameters and as LabelSelector objects."""
import re

from .errors import bad_request

_KEY = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?$")


class Requirement:
    __slots__ = ("key", "op", "values")

    def __init__(self, key, op, values=()):
        self.key = key
        self.op = op  # in, notin, exists, !exists, gt, lt
        self.values = set(values)

    def matches(self, labels):
        if self.op == "exists":
            return self.key in labels
        if self.op == "!exists":
            return self.key not in labels
        if self.op == "in":
            return self.key in labels and labels[self.key] in self.values
        if self.op == "notin":
            return self.key not in labels or labels[self.key] not in self.values
        if self.key not in labels:
            return False
        try:
            have = int(labels[self.key])
            want = int(next(iter(self.values)))
        except ValueError:
            return False
        return have > want if self.op == "gt" else have < want


class LabelSelector:
    """A parsed label selector; `everything` when empty, `nothing` when built from a null selector."""

    def __init__(self, requirements, nothing=False):
        self.requirements = requirements
        self.nothing = nothing

    def matches(self, labels):
        if self.nothing:
            return False
        labels = labels or {}
        for r in self.requirements:
            if not r.matches(labels):
                return False
        return True

    @property
    def empty(self):
        return not self.requirements and not self.nothing


EVERYTHING = LabelSelector([])


def _split_top(text):
    """Split on commas that are not inside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


_SET = re.compile(r"^\s*([^\s!=<>(),]+)\s+(in|notin)\s*\(([^()]*)\)\s*$")
_EQ = re.compile(r"^\s*([^\s!=<>(),]+)\s*(==|=|!=|<|>)\s*([^\s,]*)\s*$")
_EXISTS = re.compile(r"^\s*(!?)\s*([^\s!=<>(),]+)\s*$")


def _check_key(key, text):
    if not _KEY.match(key) or key.count("/") > 1:
        raise bad_request("unable to parse requirement: invalid label key \"%s\": in selector \"%s\"" % (key, text))


def parse_label_selector(text):
    if text is None or not text.strip():
        return EVERYTHING
    reqs = []
    for part in _split_top(text):
        if not part.strip():
            raise bad_request("unable to parse requirement: found '', expected: identifier")
        m = _SET.match(part)
        if m:
            _check_key(m.group(1), text)
            values = [v.strip() for v in m.group(3).split(",") if v.strip()]
            reqs.append(Requirement(m.group(1), m.group(2), values))
            continue
        m = _EQ.match(part)
        if m:
            _check_key(m.group(1), text)
            op = {"=": "in", "==": "in", "!=": "notin", ">": "gt", "<": "lt"}[m.group(2)]
            if op in ("gt", "lt") and not re.match(r"^-?\d+$", m.group(3)):
                raise bad_request("unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an "
                                  "integer")
            reqs.append(Requirement(m.group(1), op, [m.group(3)]))
            continue
        m = _EXISTS.match(part)
        if m:
            _check_key(m.group(2), text)
            reqs.append(Requirement(m.group(2), "!exists" if m.group(1) else "exists"))
            continue
        raise bad_request("unable to parse requirement: found '%s', expected: identifier" % part.strip())
    return LabelSelector(reqs)


def from_label_selector_object(sel):
    """metav1.LabelSelector: null selects nothing, {} selects everything."""
    if sel is None:
        return LabelSelector([], nothing=True)
    reqs = []
    for k, v in sorted((sel.get("matchLabels") or {}).items()):
        reqs.append(Requirement(k, "in", [v]))
    for e in sel.get("matchExpressions") or []:
        op = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists"}.get(e.get("operator"))
        if op is None:
            return LabelSelector([], nothing=True)
        reqs.append(Requirement(e.get("key", ""), op, e.get("values") or []))
    return LabelSelector(reqs)


def selector_object_to_string(sel):
    """The string form clients get in Scale.status.selector."""
    if not sel:
        return ""
    parts = ["%s=%s" % (k, v) for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or []:
        op = e.get("operator")
        if op == "In":
            parts.append("%s in (%s)" % (e["key"], ",".join(sorted(e.get("values") or []))))
        elif op == "NotIn":
            parts.append("%s notin (%s)" % (e["key"], ",".join(sorted(e.get("values") or []))))
        elif op == "Exists":
            parts.append(e["key"])
        elif op == "DoesNotExist":
            parts.append("!" + e["key"])
    return ",".join(parts)


# ---- field selectors ---------------------------------------------------------------------------

def _get(obj, dotted):
    cur = obj
    for part in dotted.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


# Which fields each resource can be selected by (besides metadata.name and metadata.namespace),
# as registered by the real API server's field label conversion functions.
FIELDS = {
    "/pods": {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
              "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"},
    "/events": {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
                "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
                "reason", "reportingComponent", "source", "type"},
    "/secrets": {"type"},
    "/namespaces": {"status.phase"},
    "/nodes": {"spec.unschedulable"},
    "/persistentvolumeclaims": set(),
    "apps/replicasets": {"status.replicas"},
    "batch/jobs": {"status.successful"},
}


class FieldSelector:
    def __init__(self, terms):
        self.terms = terms  # [(field, op, value)]

    def matches(self, obj):
        for field, op, value in self.terms:
            if field == "source":
                have = _get(obj, "source.component")
            else:
                have = _get(obj, field)
            if (have == value) != (op == "="):
                return False
        return True

    def exact_name(self):
        for field, op, value in self.terms:
            if field == "metadata.name" and op == "=":
                return value
        return None

    @property
    def empty(self):
        return not self.terms


NO_FIELDS = FieldSelector([])


def _split_escaped(text, sep):
    parts, cur, esc = [], [], False
    for ch in text:
        if esc:
            cur.append(ch)
            esc = False
        elif ch == "\\":
            esc = True
        elif ch == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def parse_field_selector(text, kind_key):
    if text is None or not text.strip():
        return NO_FIELDS
    allowed = FIELDS.get(kind_key, set()) | {"metadata.name", "metadata.namespace"}
    terms = []
    for part in _split_escaped(text, ","):
        part = part.strip()
        m = re.match(r"^([^=!]+)(==|!=|=)(.*)$", part)
        if not m:
            raise bad_request("invalid selector: '%s'; can't understand '%s'" % (text, part))
        field, op, value = m.group(1).strip(), m.group(2), m.group(3).strip()
        if field not in allowed:
            raise bad_request('field label not supported: %s' % field)
        terms.append((field, "!=" if op == "!=" else "=", value))
    return FieldSelector(terms)
