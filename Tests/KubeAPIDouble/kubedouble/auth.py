"""Authentication (bearer tokens, client certificates) and the one authorization rule the
double enforces: an impersonated service account may only touch its own namespace."""
import os
import threading

from . import errors as E


class _WatchedFile:
    """A file of tokens, one per line, re-read whenever its mtime (or size) changes."""

    def __init__(self, path):
        self.path = path
        self.stamp = None
        self.tokens = {}
        self.lock = threading.Lock()

    def get(self):
        try:
            st = os.stat(self.path)
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            return {}
        with self.lock:
            if stamp != self.stamp:
                tokens = {}
                try:
                    with open(self.path) as f:
                        for line in f:
                            line = line.strip()
                            if not line or line.startswith("#"):
                                continue
                            token, _, user = line.partition(",")
                            tokens[token.strip()] = user.strip() or "token-user"
                except OSError:
                    return self.tokens
                self.tokens, self.stamp = tokens, stamp
            return self.tokens


class User:
    def __init__(self, name, groups=(), restricted_ns=None):
        self.name = name
        self.groups = list(groups)
        self.restricted_ns = restricted_ns


class Authenticator:
    def __init__(self, directory, token):
        self.token = token
        self.tokens = _WatchedFile(os.path.join(directory, "tokens"))
        self.expired = _WatchedFile(os.path.join(directory, "expired-tokens"))

    def authenticate(self, headers, peer_cert):
        """The user, or raises 401. A verified client certificate wins, as in the real union authenticator."""
        if peer_cert:
            subject = dict(x[0] for x in peer_cert.get("subject", ()))
            groups = [v for rdn in peer_cert.get("subject", ()) for k, v in rdn if k == "organizationName"]
            return User(subject.get("commonName", "unknown"), groups + ["system:authenticated"])
        header = headers.get("Authorization", "")
        if not header.lower().startswith("bearer "):
            raise E.unauthorized()
        token = header[7:].strip()
        if not token or token in self.expired.get():
            raise E.unauthorized()
        if token == self.token:
            return User("knot-test", ["system:masters", "system:authenticated"])
        user = self.tokens.get().get(token)
        if user is None:
            raise E.unauthorized()
        return User(user, ["system:masters", "system:authenticated"])

    @staticmethod
    def impersonate(user, headers):
        wanted = headers.get("Impersonate-User")
        if not wanted:
            return user
        parts = wanted.split(":")
        if len(parts) == 4 and parts[0] == "system" and parts[1] == "serviceaccount":
            return User(wanted, ["system:serviceaccounts", "system:serviceaccounts:" + parts[2],
                                 "system:authenticated"], restricted_ns=parts[2])
        return User(wanted, headers.get_all("Impersonate-Group") or ["system:authenticated"])


def authorize(user, verb, kind, ns, name, subresource):
    """403 when an impersonated service account reaches outside its namespace (RBAC-style message)."""
    if user.restricted_ns is None:
        return
    if kind.namespaced and ns == user.restricted_ns:
        return
    if not kind.namespaced and kind.kind == "Namespace" and not kind.is_custom and name == user.restricted_ns \
            and verb == "get":
        return
    resource = kind.plural + ("/" + subresource if subresource else "")
    where = ('in the namespace "%s"' % ns) if (kind.namespaced and ns) else "at the cluster scope"
    msg = 'User "%s" cannot %s resource "%s" in API group "%s" %s' % (user.name, verb, resource, kind.group, where)
    raise E.forbidden_message(kind, name, msg)
