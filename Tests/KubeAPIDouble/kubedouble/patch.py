"""The three PATCH formats: JSON merge patch (RFC 7386), strategic merge patch and JSON patch (RFC 6902).

Strategic merge is "good enough": maps merge, lists of the well-known Kubernetes types
(containers, env, ports, volumes, volumeMounts, ...) merge by their patchMergeKey, the
`$patch`, `$retainKeys`, `$setElementOrder` and `$deleteFromPrimitiveList` directives are
understood, every other list is replaced.
"""
from .errors import ApiError, bad_request
from .util import clone


def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return clone(patch)
    result = clone(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        elif isinstance(v, dict):
            result[k] = merge_patch(result.get(k), v)
        else:
            result[k] = clone(v)
    return result


# Lists that merge by a key (from the Go types' patchMergeKey tags); the rest are replaced.
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name",
    "volumes": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath", "imagePullSecrets": "name",
    "hostAliases": "ip", "conditions": "type", "ownerReferences": "uid", "topologySpreadConstraints":
    "topologyKey", "secrets": "name", "ports": None,  # containerPort for containers, port for services
}
PRIMITIVE_MERGE = {"finalizers"}


def merge_key_for(field, items):
    key = MERGE_KEYS.get(field, False)
    if key is None:  # ports
        for item in items:
            if isinstance(item, dict):
                return "containerPort" if "containerPort" in item else "port"
        return "port"
    return key or None


def strategic_merge(target, patch):
    if not isinstance(patch, dict):
        return clone(patch)
    if not isinstance(target, dict):
        target = {}
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: clone(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    result = clone(target)
    retain = patch.get("$retainKeys")
    for k, v in patch.items():
        if k in ("$patch", "$retainKeys") or k.startswith("$setElementOrder/"):
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            field = k.split("/", 1)[1]
            if isinstance(result.get(field), list):
                result[field] = [x for x in result[field] if x not in (v or [])]
            continue
        if v is None:
            result.pop(k, None)
            continue
        if isinstance(v, list):
            existing = result.get(k)
            merged = _merge_list(k, existing if isinstance(existing, list) else [], v)
            result[k] = merged
            continue
        if isinstance(v, dict):
            merged = strategic_merge(result.get(k), v)
            if merged is None:
                result.pop(k, None)
            else:
                result[k] = merged
            continue
        result[k] = clone(v)
    if isinstance(retain, list):
        for k in list(result):
            if k not in retain:
                del result[k]
    return result


def _merge_list(field, original, patch):
    if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in patch):
        return [clone(x) for x in patch if not (isinstance(x, dict) and x.get("$patch") == "replace")]
    if field in PRIMITIVE_MERGE:
        out = list(original)
        for x in patch:
            if x not in out:
                out.append(x)
        return out
    key = merge_key_for(field, patch + original)
    if not key or not all(isinstance(x, dict) for x in patch):
        return [clone(x) for x in patch if not (isinstance(x, dict) and x.get("$patch"))]
    out = [clone(x) for x in original]
    for item in patch:
        if key not in item:
            out.append(clone(item))
            continue
        idx = next((i for i, x in enumerate(out) if isinstance(x, dict) and x.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                del out[idx]
            continue
        if idx is None:
            out.append({k: clone(v) for k, v in item.items() if k != "$patch"})
        else:
            out[idx] = strategic_merge(out[idx], item)
    return out


# ---- RFC 6902 --------------------------------------------------------------------------------

def _unprocessable(message):
    return ApiError(422, "Invalid", message)


def _parse_pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise _unprocessable('json patch path "%s" must start with "/"' % path)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc, parts, path):
    cur = doc
    for p in parts:
        if isinstance(cur, dict):
            if p not in cur:
                raise _unprocessable("jsonpatch: doc is missing path: \"%s\": missing value" % path)
            cur = cur[p]
        elif isinstance(cur, list):
            try:
                cur = cur[int(p)]
            except (ValueError, IndexError):
                raise _unprocessable("jsonpatch: doc is missing path: \"%s\": missing value" % path)
        else:
            raise _unprocessable("jsonpatch: doc is missing path: \"%s\": missing value" % path)
    return cur


def _add(doc, parts, value, path, replace=False):
    if not parts:
        return value
    parent = _walk(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise _unprocessable("jsonpatch replace operation does not apply: doc is missing key: %s" % path)
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-" and not replace:
            parent.append(value)
        else:
            try:
                i = int(last)
            except ValueError:
                raise _unprocessable("jsonpatch: invalid array index %s" % last)
            if replace:
                if not 0 <= i < len(parent):
                    raise _unprocessable("jsonpatch replace operation does not apply: doc is missing key: %s" % path)
                parent[i] = value
            else:
                if not 0 <= i <= len(parent):
                    raise _unprocessable("jsonpatch add operation does not apply: doc is missing path: %s" % path)
                parent.insert(i, value)
    else:
        raise _unprocessable("jsonpatch: doc is missing path: \"%s\"" % path)
    return doc


def _remove(doc, parts, path):
    if not parts:
        raise _unprocessable("jsonpatch: cannot remove the whole document")
    parent = _walk(doc, parts[:-1], path)
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _unprocessable("jsonpatch remove operation does not apply: doc is missing path: \"%s\"" % path)
        return parent.pop(last)
    if isinstance(parent, list):
        try:
            return parent.pop(int(last))
        except (ValueError, IndexError):
            raise _unprocessable("jsonpatch remove operation does not apply: doc is missing path: \"%s\"" % path)
    raise _unprocessable("jsonpatch remove operation does not apply: doc is missing path: \"%s\"" % path)


def json_patch(target, ops):
    if not isinstance(ops, list):
        raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = clone(target)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise bad_request("json patch operation must have \"op\" and \"path\"")
        kind, path = op["op"], op["path"]
        parts = _parse_pointer(path)
        if kind == "add":
            doc = _add(doc, parts, clone(op.get("value")), path)
        elif kind == "remove":
            _remove(doc, parts, path)
        elif kind == "replace":
            doc = _add(doc, parts, clone(op.get("value")), path, replace=True)
        elif kind in ("move", "copy"):
            src = _parse_pointer(op.get("from", ""))
            value = _remove(doc, src, op.get("from")) if kind == "move" else clone(_walk(doc, src, op.get("from")))
            doc = _add(doc, parts, value, path)
        elif kind == "test":
            if _walk(doc, parts, path) != op.get("value"):
                raise _unprocessable("testing value %s failed: test failed" % path)
        else:
            raise bad_request("Unexpected kind: %s" % kind)
    return doc
