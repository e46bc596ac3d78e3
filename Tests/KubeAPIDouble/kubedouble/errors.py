"""Kubernetes API errors as metav1.Status, with the messages the real API server writes.

Clients (kubectl, client-go, Knot's Swift client) branch on `reason` and `code`, and
people read `message`, so all three follow k8s.io/apimachinery/pkg/api/errors.
"""


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self):
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason}
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def qualified(kind):
    """`deployments.apps` or `pods`: how errors name a resource."""
    return kind.plural + ("." + kind.group if kind.group else "")


def _details(kind, name=None):
    d = {}
    if name:
        d["name"] = name
    if kind.group:
        d["group"] = kind.group
    d["kind"] = kind.plural
    return d


def not_found(kind, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (qualified(kind), name), _details(kind, name))


def namespace_not_found(name):
    return ApiError(404, "NotFound", 'namespaces "%s" not found' % name, {"name": name, "kind": "namespaces"})


def already_exists(kind, name):
    return ApiError(409, "AlreadyExists", '%s "%s" already exists' % (qualified(kind), name), _details(kind, name))


def conflict(kind, name):
    return ApiError(409, "Conflict",
                    'Operation cannot be fulfilled on %s "%s": the object has been modified; '
                    "please apply your changes to the latest version and try again" % (qualified(kind), name),
                    _details(kind, name))


def conflict_message(kind, name, message):
    return ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": %s' % (qualified(kind), name, message),
                    _details(kind, name))


def invalid(kind, name, causes):
    """422 Invalid. causes: list of (field, reason, detail-message) from validation."""
    parts = ["%s: %s" % (field, msg) for field, _, msg in causes]
    text = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    kind_name = kind.kind + ("." + kind.group if kind.group else "")
    details = {"name": name or ""}
    if kind.group:
        details["group"] = kind.group
    details["kind"] = kind.kind
    details["causes"] = [{"reason": reason, "message": msg, "field": field} for field, reason, msg in causes]
    return ApiError(422, "Invalid", '%s "%s" is invalid: %s' % (kind_name, name or "", text), details)


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def forbidden_message(kind, name, message):
    return ApiError(403, "Forbidden",
                    "%s%s is forbidden: %s" % (qualified(kind), ' "%s"' % name if name else "", message),
                    _details(kind, name))


def method_not_allowed():
    return ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource",
                    {})


def unsupported_media_type(content_type):
    return ApiError(415, "UnsupportedMediaType",
                    'the body of the request was in an unknown format - accepted media types include: '
                    "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, "
                    "application/strategic-merge-patch+json", {})


def not_acceptable():
    return ApiError(406, "NotAcceptable", "the server was unable to respond with a content type that the client "
                    "supports", {})


def path_not_found():
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def too_old(requested, oldest):
    return ApiError(410, "Expired", "too old resource version: %s (%s)" % (requested, oldest))


def continue_expired():
    return ApiError(410, "Expired",
                    "The provided continue parameter is too old to display a consistent list result. You can start "
                    "a new list without the continue parameter, or use the continue token in this response to "
                    "retrieve the remainder of the results. Continuing with the provided token results in an "
                    "inconsistent list - objects that were created, modified, or deleted between the time the first "
                    "chunk was returned and now may show up in the list.")


def unauthorized():
    return ApiError(401, "Unauthorized", "Unauthorized")


def too_large():
    return ApiError(413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728")


def injected(code, retry_after=None):
    reasons = {429: ("TooManyRequests", "Too many requests, please try again later."),
               500: ("InternalError", "Internal error occurred: injected fault (kube-double)"),
               502: ("InternalError", "bad gateway (injected fault)"),
               503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
               504: ("Timeout", "the server was unable to return a response in the time allotted"),
               409: ("Conflict", "injected conflict"),
               404: ("NotFound", "the server could not find the requested resource")}
    reason, message = reasons.get(code, ("InternalError", "injected fault with status %d" % code))
    details = {}
    headers = {}
    if retry_after is not None:
        details["retryAfterSeconds"] = int(retry_after)
        headers["Retry-After"] = str(int(retry_after))
    return ApiError(code, reason, message, details or None, headers)
