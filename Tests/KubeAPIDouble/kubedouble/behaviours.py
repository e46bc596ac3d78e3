"""How a simulated pod behaves: chosen by the annotation kube-double.knot.test/behaviour on the pod
(template), else by its images. Shared by the API layer (scheduling at create) and the controller."""

ANNOTATION = "kube-double.knot.test/behaviour"
BEHAVIOURS = ("ok", "image-pull-error", "crash-loop", "pending")


def image_behaviour(image):
    image = str(image or "")
    last = image.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else ""
    if tag == "does-not-exist" or "nonexistent" in image:
        return "image-pull-error"
    return "ok"


def container_behaviour(pod, container):
    wanted = ((pod.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION)
    if wanted in BEHAVIOURS:
        return wanted
    return image_behaviour(container.get("image"))


def pod_behaviour(pod):
    """The pod-level behaviour: pending wins, then image-pull-error, then crash-loop."""
    containers = ((pod.get("spec") or {}).get("containers")) or []
    kinds = {container_behaviour(pod, c) for c in containers}
    for b in ("pending", "image-pull-error", "crash-loop"):
        if b in kinds:
            return b
    return "ok"
