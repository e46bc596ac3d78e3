"""pods/{name}/log: deterministic container output derived from the simulated kubelet's state.

A healthy container prints `double: container NAME started (image IMAGE)` when it
starts and `double: tick N` every 0.5 s after; a crash-looping one prints the start
line and `double: fatal error, exiting with code 1`.
"""
from . import errors as E
from .util import now_rfc3339_nano

TICK = 0.5


def pick_container(pod, container):
    names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    if container:
        if container not in names:
            init = [c.get("name") for c in (pod.get("spec") or {}).get("initContainers") or []]
            if container not in init:
                raise E.bad_request("container %s is not valid for pod %s" % (container, pod["metadata"]["name"]))
        return container
    if len(names) == 1:
        return names[0]
    raise E.bad_request("a container name must be specified for pod %s, choose one of: [%s]"
                        % (pod["metadata"]["name"], " ".join(names)))


def lines(pod, rt, container, previous, now, after=None):
    """[(time, text)] so far (only those later than `after` when given), or raises the 400 the real server
    gives for a container that has not started."""
    name = pod["metadata"]["name"]
    if not (pod.get("spec") or {}).get("nodeName"):
        raise E.bad_request("pod %s does not have a host assigned" % name)
    image = next((c.get("image") for c in pod["spec"].get("containers") or [] if c.get("name") == container), "")
    behaviour = rt.behaviour.get(container) if rt else None
    if rt is None or rt.stage == "creating" or rt.started_at is None:
        raise E.bad_request('container "%s" in pod "%s" is waiting to start: ContainerCreating' % (container, name))
    if behaviour == "image-pull-error":
        reason = rt.pull.get(container, "ErrImagePull")
        text = "image can't be pulled" if reason == "ImagePullBackOff" else "trying and failing to pull image"
        raise E.bad_request('container "%s" in pod "%s" is waiting to start: %s' % (container, name, text))
    start_line = "double: container %s started (image %s)" % (container, image)
    if behaviour == "crash-loop":
        started, finished = rt.last_crash.get(container, (rt.started_at, rt.started_at))
        if previous and not rt.restarts.get(container):
            raise E.bad_request('previous terminated container "%s" in pod "%s" not found' % (container, name))
        return [(started, start_line), (finished, "double: fatal error, exiting with code 1")]
    if previous:
        raise E.bad_request('previous terminated container "%s" in pod "%s" not found' % (container, name))
    end = rt.finished_at or now
    out = [(rt.started_at, start_line)]
    n = 1
    if after is not None:
        # A follower asks every 0.1 s: compute only the new ticks, not the whole history again.
        out = [] if after >= rt.started_at else out
        n = max(1, int((after - rt.started_at) / TICK))
        while rt.started_at + n * TICK <= after:
            n += 1
    while rt.started_at + n * TICK <= end:
        out.append((rt.started_at + n * TICK, "double: tick %d" % n))
        n += 1
    return out


def render(entries, timestamps):
    if timestamps:
        return "".join("%s %s\n" % (now_rfc3339_nano(t), text) for t, text in entries)
    return "".join(text + "\n" for _, text in entries)
