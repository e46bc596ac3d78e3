"""metadata.managedFields and server-side apply.

Field sets are Python sets of paths; a path is a tuple of FieldsV1 elements
("f:spec", "f:replicas", 'k:{"name":"web"}'), so they serialise to the real
`fieldsV1` format. Lists of the known keyed types (containers, env, ports,
volumes, volumeMounts, ...) are tracked per item; every other list is atomic.
The rules kept from the real field manager:
  * Apply: conflicts when another manager owns a field the config sets to a
    different value (force moves ownership); fields the applier owned and no
    longer sets are removed unless someone else owns them; re-applying the same
    config changes nothing.
  * Update (POST/PUT/PATCH): the manager takes every field it changed; the
    other managers lose those fields.
"""
import json

from .errors import ApiError
from .patch import merge_key_for
from .util import clone

IDENTITY_META = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                 "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink", "generateName"}
MISSING = object()


def _list_key(field, items):
    key = merge_key_for(field, items)
    if key and all(isinstance(x, dict) and key in x for x in items):
        return key
    return None


def _item_element(key, item):
    return "k:" + json.dumps({key: item[key]}, separators=(",", ":"), sort_keys=True)


def _collect_value(value, path, paths, field):
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _collect_value(v, path + ("f:" + k,), paths, k)
    elif isinstance(value, list) and value and _list_key(field, value):
        key = _list_key(field, value)
        for item in value:
            ip = path + (_item_element(key, item),)
            paths.add(ip)
            for k, v in item.items():
                _collect_value(v, ip + ("f:" + k,), paths, k)
    else:
        paths.add(path)


def object_fields(obj, skip_status=True):
    """The field set of an object for the main resource (identity and, for kinds with a status
    subresource, status excluded)."""
    paths = set()
    for k, v in obj.items():
        if k in ("apiVersion", "kind") or (k == "status" and skip_status):
            continue
        if k == "metadata":
            for mk, mv in (v or {}).items():
                if mk not in IDENTITY_META:
                    _collect_value(mv, ("f:metadata", "f:" + mk), paths, mk)
            continue
        _collect_value(v, ("f:" + k,), paths, k)
    return paths


def status_fields(obj):
    paths = set()
    if obj.get("status") is not None:
        _collect_value(obj["status"], ("f:status",), paths, "status")
    return paths


_ELEMENTS = {}


def _element(el):
    """Parsed k:{...} element (cached: the same few keys recur on every write)."""
    want = _ELEMENTS.get(el)
    if want is None:
        want = json.loads(el[2:])
        if len(_ELEMENTS) < 100000:
            _ELEMENTS[el] = want
    return want


def _matches(item, want):
    return isinstance(item, dict) and all(item.get(k) == v for k, v in want.items())


def get_path(obj, path):
    cur = obj
    for el in path:
        if el.startswith("f:"):
            if not isinstance(cur, dict) or el[2:] not in cur:
                return MISSING
            cur = cur[el[2:]]
        else:
            if not isinstance(cur, list):
                return MISSING
            want = _element(el)
            cur = next((x for x in cur if _matches(x, want)), MISSING)
            if cur is MISSING:
                return MISSING
    return cur


def remove_path(obj, path):
    parents = [obj]
    cur = obj
    for el in path[:-1]:
        cur = get_path(cur, (el,))
        if cur is MISSING:
            return
        parents.append(cur)
    last = path[-1]
    if last.startswith("f:"):
        if isinstance(cur, dict):
            cur.pop(last[2:], None)
    elif isinstance(cur, list):
        want = _element(last)
        for i, x in enumerate(cur):
            if _matches(x, want):
                del cur[i]
                break
    # Drop maps that became empty (a label map whose last label went), but never top-level sections.
    for depth in range(len(parents) - 1, 1, -1):
        node = parents[depth]
        if isinstance(node, dict) and not node:
            _pop_child(parents[depth - 1], path[depth - 1])
        else:
            break


def _pop_child(parent, el):
    if el.startswith("f:") and isinstance(parent, dict):
        parent.pop(el[2:], None)


def path_string(path):
    out = []
    for el in path:
        if el.startswith("f:"):
            out.append("." + el[2:])
        else:
            want = json.loads(el[2:])
            out.append("[" + ",".join("%s=%s" % (k, json.dumps(v)) for k, v in sorted(want.items())) + "]")
    return "".join(out)


def to_fields_v1(paths):
    root = {}
    for path in sorted(paths, key=len):
        node = root
        for el in path:
            node = node.setdefault(el, {})
        if path and path[-1].startswith("k:"):
            node["."] = {}
    return root


def from_fields_v1(tree, prefix=()):
    paths = set()
    for el, sub in (tree or {}).items():
        if el == ".":
            paths.add(prefix)
            continue
        path = prefix + (el,)
        if not sub:
            paths.add(path)
        else:
            paths |= from_fields_v1(sub, path)
    return paths


class Entry:
    __slots__ = ("manager", "operation", "api_version", "subresource", "time", "fields", "raw", "orig")

    def __init__(self, manager, operation, api_version, subresource, time, fields, raw=None):
        self.manager, self.operation, self.api_version = manager, operation, api_version
        self.subresource, self.time, self.fields = subresource, time, fields
        self.raw = raw  # the JSON entry it was read from, reused when nothing changed
        self.orig = frozenset(fields) if raw is not None else None

    def copy(self):
        e = Entry(self.manager, self.operation, self.api_version, self.subresource, self.time, set(self.orig))
        e.raw, e.orig = self.raw, self.orig
        return e

    def identity(self):
        return (self.manager, self.operation, self.subresource or "")

    def describe(self):
        text = '"%s"' % self.manager
        if self.subresource:
            text += ' with subresource "%s"' % self.subresource
        if self.operation == "Update":
            text += " using %s" % self.api_version
        return text

    def unchanged(self):
        return (self.raw is not None and self.time == self.raw.get("time") and
                self.api_version == self.raw.get("apiVersion") and self.fields == self.orig)

    def to_json(self):
        if self.unchanged():
            return self.raw
        d = {"manager": self.manager, "operation": self.operation, "apiVersion": self.api_version,
             "time": self.time, "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(self.fields)}
        if self.subresource:
            d["subresource"] = self.subresource
        return d


# Parsed managedFields by the identity of the (never mutated) list in a stored object, so a
# controller updating status does not re-parse every manager's field set on every write.
_PARSED = {}


def read_entries(obj):
    entries = (obj.get("metadata") or {}).get("managedFields")
    if not entries:
        return []
    hit = _PARSED.get(id(entries))
    if hit is None or hit[0] is not entries:
        parsed = []
        for e in entries:
            if not isinstance(e, dict) or not e.get("manager"):
                continue
            parsed.append(Entry(e.get("manager"), e.get("operation", "Update"), e.get("apiVersion", ""),
                                e.get("subresource", ""), e.get("time"), from_fields_v1(e.get("fieldsV1")), raw=e))
        if len(_PARSED) > 20000:
            _PARSED.clear()
        _PARSED[id(entries)] = (entries, parsed)
    else:
        parsed = hit[1]
    return [e.copy() for e in parsed]


def write_entries(obj, entries):
    entries = [e for e in entries if e.fields]
    if entries:
        obj.setdefault("metadata", {})["managedFields"] = [e.to_json() for e in entries]
    else:
        (obj.get("metadata") or {}).pop("managedFields", None)


def _diff_maps(old, new, path, changed, removed):
    for k, v in new.items():
        _diff(old.get(k, MISSING), v, path + ("f:" + k,), k, changed, removed)
    for k, v in old.items():
        if k not in new:
            _collect_value(v, path + ("f:" + k,), removed, k)


def _diff(old, new, path, field, changed, removed):
    """Paths set or changed in new (changed) and paths only in old (removed), skipping equal subtrees."""
    if old is new or old == new:
        return
    if new is MISSING or new is None and old is not MISSING:
        _collect_value(old, path, removed, field)
        return
    if old is MISSING:
        _collect_value(new, path, changed, field)
        return
    if isinstance(new, dict) and new and isinstance(old, dict) and old:
        _diff_maps(old, new, path, changed, removed)
        return
    key = _list_key(field, new) if isinstance(new, list) and new else None
    if key and isinstance(old, list) and old and _list_key(field, old) == key:
        by_key = {json.dumps(x[key], sort_keys=True): x for x in old}
        seen = set()
        for item in new:
            k = json.dumps(item[key], sort_keys=True)
            seen.add(k)
            ip = path + (_item_element(key, item),)
            prev = by_key.get(k)
            if prev is None:
                changed.add(ip)
                _diff_maps({}, item, ip, changed, removed)
            elif prev != item:
                _diff_maps(prev, item, ip, changed, removed)
        for k, item in by_key.items():
            if k not in seen:
                _collect_value([item], path, removed, field)
        return
    new_paths, old_paths = set(), set()
    _collect_value(new, path, new_paths, field)
    _collect_value(old, path, old_paths, field)
    changed |= new_paths
    removed |= old_paths - new_paths


def diff(old, new, scope):
    """(changed, removed) field paths between two objects, for a scope: object, object+status, status, scale."""
    changed, removed = set(), set()
    if scope == "scale":
        o = (old.get("spec") or {}).get("replicas", MISSING) if old else MISSING
        n = (new.get("spec") or {}).get("replicas", MISSING)
        if n is not MISSING and n != o:
            changed.add(("f:spec", "f:replicas"))
        return changed, removed
    if scope == "status":
        _diff((old or {}).get("status", MISSING), new.get("status", MISSING), ("f:status",), "status", changed,
              removed)
        return changed, removed
    skip_status = scope == "object"
    old = old or {}
    keys = set(new) | set(old)
    for k in keys:
        if k in ("apiVersion", "kind") or (k == "status" and skip_status):
            continue
        if k == "metadata":
            om, nm = old.get("metadata") or {}, new.get("metadata") or {}
            for mk in set(om) | set(nm):
                if mk in IDENTITY_META:
                    continue
                if mk in nm:
                    _diff(om.get(mk, MISSING), nm[mk], ("f:metadata", "f:" + mk), mk, changed, removed)
                else:
                    _collect_value(om[mk], ("f:metadata", "f:" + mk), removed, mk)
            continue
        if k in new:
            _diff(old.get(k, MISSING), new[k], ("f:" + k,), k, changed, removed)
        else:
            _collect_value(old[k], ("f:" + k,), removed, k)
    return changed, removed


def record_update(old, new, manager, api_version, subresource, now, scope):
    """Give `manager` (operation Update) the fields it changed from old to new. Mutates `new`.
    Returns False when no field changed (managedFields left as they were)."""
    changed, removed = diff(old, new, scope)
    entries = read_entries(old) if old else []
    if not changed and not removed:
        if old is not None:
            new.setdefault("metadata", {})["managedFields"] = (old.get("metadata") or {}).get("managedFields")
            if not new["metadata"]["managedFields"]:
                new["metadata"].pop("managedFields")
        return False
    mine = None
    gone = changed | removed
    for e in entries:
        if e.fields & gone:
            e.fields -= gone
        if e.identity() == (manager, "Update", subresource or ""):
            mine = e
    if mine is None:
        mine = Entry(manager, "Update", api_version, subresource, now, set())
        entries.append(mine)
    mine.fields |= changed
    mine.time, mine.api_version = now, api_version
    write_entries(new, entries)
    return True


def apply_merge(base, config, field=None):
    """Merge an applied configuration into the live object: maps recurse, keyed lists merge per item."""
    if isinstance(config, dict):
        result = clone(base) if isinstance(base, dict) else {}
        for k, v in config.items():
            if v is None:
                result.pop(k, None)
            else:
                result[k] = apply_merge(result.get(k), v, k)
        return result
    if isinstance(config, list) and field and _list_key(field, config) and isinstance(base, list):
        key = _list_key(field, config)
        out = [clone(x) for x in base]
        for item in config:
            idx = next((i for i, x in enumerate(out) if isinstance(x, dict) and x.get(key) == item[key]), None)
            if idx is None:
                out.append(clone(item))
            else:
                out[idx] = apply_merge(out[idx], item)
        return out
    return clone(config)


def apply(live, config, manager, api_version, force, now, fields_of, strip_status, kind_for_errors, name):
    """Server-side apply. Returns the new object (managedFields written). Raises 409 on conflicts."""
    applied = fields_of(config)
    entries = read_entries(live) if live else []
    mine = next((e for e in entries if e.identity() == (manager, "Apply", "")), None)
    others = [e for e in entries if e is not mine]

    conflicts = []
    if live:
        for p in applied:
            if p[-1].startswith("k:"):
                continue
            have = get_path(live, p)
            if have is MISSING or have == get_path(config, p):
                continue
            for e in others:
                if p in e.fields:
                    conflicts.append((e, p))
    if conflicts and not force:
        raise conflict_error(conflicts, kind_for_errors, name)
    for e, p in conflicts:
        e.fields.discard(p)

    result = clone(live) if live else {}
    previously = mine.fields if mine else set()
    dropped = previously - applied
    if dropped:
        owned_by_others = set()
        for e in others:
            owned_by_others |= e.fields
        for p in sorted(dropped, key=len, reverse=True):
            if p in owned_by_others or any(q[:len(p)] == p for q in owned_by_others):
                continue
            remove_path(result, p)
    result = apply_merge(result, {k: v for k, v in config.items() if not (k == "status" and strip_status)})
    if mine is None:
        mine = Entry(manager, "Apply", api_version, "", now, set())
        entries.append(mine)
    if mine.fields != applied or mine.api_version != api_version:
        mine.time = now
    mine.fields = applied
    mine.api_version = api_version
    entries_changed = bool(conflicts) or not all(e.unchanged() for e in entries)
    write_entries(result, entries)
    return result, entries_changed


def conflict_error(conflicts, kind, name):
    by_manager = {}
    for e, p in conflicts:
        by_manager.setdefault(e.describe(), []).append(path_string(p))
    blocks = []
    for who, paths in by_manager.items():
        paths = sorted(set(paths))
        if len(paths) == 1:
            blocks.append("conflict with %s: %s" % (who, paths[0]))
        else:
            blocks.append("conflicts with %s:\n" % who + "\n".join("- " + p for p in paths))
    n = sum(len(set(v)) for v in by_manager.values())
    message = "Apply failed with %d conflict%s: %s" % (n, "" if n == 1 else "s", "\n".join(blocks))
    causes = [{"reason": "FieldManagerConflict", "message": "conflict with %s" % who, "field": p}
              for who, paths in by_manager.items() for p in sorted(set(paths))]
    return ApiError(409, "Conflict", message, {"causes": causes})
