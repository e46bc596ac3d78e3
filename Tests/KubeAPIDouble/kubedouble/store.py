"""Object storage, resourceVersions, the bounded event history and watchers.

Objects live in buckets keyed by (storage key, namespace), so listing a namespace never
scans the whole store. A single global counter gives every write its resourceVersion, and
every write appends one event to the history; a watch resuming from resourceVersion X
replays history after X, or gets 410 Expired when X is older than what is kept (or older
than the last compaction). Stored objects are never mutated: writers store new dicts.
"""
import collections
import threading


class WatchEvent:
    __slots__ = ("type", "key", "ns", "obj", "old", "rv")

    def __init__(self, type_, key, ns, obj, old, rv):
        self.type, self.key, self.ns, self.obj, self.old, self.rv = type_, key, ns, obj, old, rv


class Watcher:
    """One open watch. The store pushes raw events (under its lock, cheaply); the HTTP thread
    filters them by namespace and selectors and turns label transitions into ADDED/DELETED."""

    def __init__(self, key, ns, label_selector, field_selector):
        self.key, self.ns = key, ns
        self.label_selector, self.field_selector = label_selector, field_selector
        self.cond = threading.Condition(threading.Lock())
        self.items = collections.deque()
        self.closed = False
        self.error = None  # a Status dict sent as an ERROR event before the stream ends

    def push(self, ev):
        with self.cond:
            self.items.append(ev)
            self.cond.notify()

    def close(self, error=None):
        with self.cond:
            if error is not None and self.error is None:
                self.error = error
            self.closed = True
            self.cond.notify()

    def pending(self):
        with self.cond:
            return bool(self.items)

    def next(self, timeout):
        """The next raw event, None on timeout; raises StopIteration once closed and drained."""
        with self.cond:
            if not self.items and not self.closed:
                self.cond.wait(timeout)
            if self.items:
                return self.items.popleft()
            if self.closed:
                raise StopIteration
            return None

    def matches(self, obj):
        meta = obj.get("metadata") or {}
        if self.ns is not None and meta.get("namespace") != self.ns:
            return False
        if not self.label_selector.matches(meta.get("labels")):
            return False
        return self.field_selector.matches(obj)

    def translate(self, ev):
        """(type, object) as the client should see it, or None when the event is filtered out."""
        if ev.type in ("ADDED", "DELETED"):
            return (ev.type, ev.obj) if self.matches(ev.obj) else None
        now = self.matches(ev.obj)
        before = ev.old is not None and self.matches(ev.old)
        if now and before:
            return ("MODIFIED", ev.obj)
        if now:
            return ("ADDED", ev.obj)
        if before:
            return ("DELETED", ev.obj)
        return None


class Store:
    def __init__(self, history_size=50000):
        self.lock = threading.RLock()
        self.history_size = history_size
        self.listeners = []
        self._init()

    def _init(self):
        self.rv = 100
        self.compacted_rv = 0
        self.buckets = {}  # (key, ns) -> {name: obj}
        self.namespaces_of = collections.defaultdict(set)  # key -> namespaces with objects
        self.keys_in_ns = collections.defaultdict(set)  # ns -> keys with objects
        self.by_uid = {}  # uid -> (key, ns, name)
        self.dependents = collections.defaultdict(set)  # owner uid -> {(key, ns, name)}
        self.history = collections.deque(maxlen=self.history_size)
        self.watchers = collections.defaultdict(set)  # key -> {Watcher}
        self.total = 0

    # ---- reads ----------------------------------------------------------------------------------

    def get(self, key, ns, name):
        bucket = self.buckets.get((key, ns or ""))
        return bucket.get(name) if bucket else None

    def list(self, key, ns=None):
        """Objects sorted as etcd returns them (by namespace, then name)."""
        with self.lock:
            if ns is not None:
                bucket = self.buckets.get((key, ns))
                return [bucket[n] for n in sorted(bucket)] if bucket else []
            out = []
            for namespace in sorted(self.namespaces_of.get(key, ())):
                bucket = self.buckets[(key, namespace)]
                out.extend(bucket[n] for n in sorted(bucket))
            return out

    def count(self, key, ns):
        bucket = self.buckets.get((key, ns))
        return len(bucket) if bucket else 0

    def by_uid_get(self, uid):
        loc = self.by_uid.get(uid)
        return self.get(*loc) if loc else None

    def dependents_of(self, uid):
        with self.lock:
            return [self.get(*loc) for loc in list(self.dependents.get(uid, ())) if self.get(*loc) is not None]

    # ---- writes ---------------------------------------------------------------------------------

    def next_rv(self):
        self.rv += 1
        return self.rv

    def put(self, key, obj, event_type):
        """Store obj (a fresh dict the caller no longer touches) with a new resourceVersion."""
        with self.lock:
            meta = obj["metadata"]
            ns = meta.get("namespace") or ""
            name = meta["name"]
            rv = self.next_rv()
            meta["resourceVersion"] = str(rv)
            bucket = self.buckets.setdefault((key, ns), {})
            old = bucket.get(name)
            bucket[name] = obj
            if old is None:
                self.total += 1
                self.namespaces_of[key].add(ns)
                self.keys_in_ns[ns].add(key)
            self.by_uid[meta.get("uid")] = (key, ns, name)
            self._index_owners(key, ns, name, old, obj)
            self._emit(WatchEvent(event_type, key, ns, obj, old, rv))
            return obj

    def remove(self, key, ns, name):
        with self.lock:
            ns = ns or ""
            bucket = self.buckets.get((key, ns))
            old = bucket.pop(name, None) if bucket else None
            if old is None:
                return None
            if not bucket:
                del self.buckets[(key, ns)]
                self.namespaces_of[key].discard(ns)
                self.keys_in_ns[ns].discard(key)
            self.total -= 1
            rv = self.next_rv()
            final = dict(old)
            final["metadata"] = dict(old["metadata"], resourceVersion=str(rv))
            self.by_uid.pop(old["metadata"].get("uid"), None)
            self._index_owners(key, ns, name, old, None)
            self._emit(WatchEvent("DELETED", key, ns, final, old, rv))
            return final

    def _index_owners(self, key, ns, name, old, new):
        before = {r.get("uid") for r in ((old or {}).get("metadata") or {}).get("ownerReferences") or []}
        after = {r.get("uid") for r in ((new or {}).get("metadata") or {}).get("ownerReferences") or []}
        for uid in before - after:
            deps = self.dependents.get(uid)
            if deps is not None:
                deps.discard((key, ns, name))
                if not deps:
                    del self.dependents[uid]
        for uid in after - before:
            self.dependents[uid].add((key, ns, name))

    def _emit(self, ev):
        self.history.append(ev)
        for w in self.watchers.get(ev.key, ()):
            w.push(ev)
        for listener in self.listeners:
            listener(ev)

    # ---- watch ----------------------------------------------------------------------------------

    def oldest_rv(self):
        return self.history[0].rv if self.history else self.rv + 1

    def too_old(self, rv):
        """None when a watch can resume after `rv`; else the oldest resourceVersion still known."""
        if rv < self.compacted_rv:
            return self.compacted_rv
        if self.history and rv < self.history[0].rv - 1:
            return self.history[0].rv - 1
        return None

    def watch(self, key, ns, label_selector, field_selector, since_rv):
        """Register a watcher. since_rv None: synthetic ADDED for every current object first."""
        from .errors import too_old
        with self.lock:
            if since_rv is not None:
                oldest = self.too_old(since_rv)
                if oldest is not None:
                    raise too_old(since_rv, oldest)
            w = Watcher(key, ns, label_selector, field_selector)
            if since_rv is None:
                for obj in self.list(key, ns):
                    w.push(WatchEvent("ADDED", key, obj["metadata"].get("namespace", ""), obj, None, 0))
            elif since_rv < self.rv:
                replay = []
                for ev in reversed(self.history):
                    if ev.rv <= since_rv:
                        break
                    if ev.key == key:
                        replay.append(ev)
                for ev in reversed(replay):
                    w.push(ev)
            self.watchers[key].add(w)
            return w

    def unwatch(self, w):
        with self.lock:
            self.watchers.get(w.key, set()).discard(w)

    def open_watches(self):
        with self.lock:
            return sum(len(s) for s in self.watchers.values())

    def compact(self, error_for):
        """Forget history; end every open watch with an ERROR 410 event (error_for(rv) builds it)."""
        with self.lock:
            # Compaction is a revision of its own: every resourceVersion handed out before it is now too old.
            self.compacted_rv = self.next_rv()
            self.history.clear()
            for ws in self.watchers.values():
                for w in ws:
                    w.close(error_for(self.rv))
            self.watchers.clear()
            return self.rv

    def reset(self):
        with self.lock:
            for ws in self.watchers.values():
                for w in ws:
                    w.close()
            rv = self.rv
            self._init()
            # resourceVersions keep growing across a reset, so clients never see one twice.
            self.rv = rv + 1000
            self.compacted_rv = self.rv
