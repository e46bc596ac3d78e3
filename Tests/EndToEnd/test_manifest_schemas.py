"""Every object Knot renders for Kubernetes, checked against the official
Kubernetes JSON schemas (PyPI kubernetes-validate), strictly: unknown fields
fail. The Swift suite (RenderedManifestTests) writes the objects, prepared
exactly as the Kubernetes runtime applies them, to KNOT_E2E_MANIFESTS."""
import glob
import os

import pytest
import yaml

kubernetes_validate = pytest.importorskip("kubernetes_validate")

# The oldest Kubernetes Knot supports and the newest the validator knows.
VERSIONS = ["1.29.0", kubernetes_validate.latest_version()]


def manifest_files():
    directory = os.environ.get("KNOT_E2E_MANIFESTS")
    if not directory:
        pytest.skip("KNOT_E2E_MANIFESTS is not set (scripts/test sets it)")
    files = sorted(glob.glob(os.path.join(directory, "*.yaml")))
    # Nine Karvdash templates and two forms of a user's space.
    assert len(files) >= 11, files
    return files


def test_every_rendered_object_is_valid_for_kubernetes():
    checked = 0
    for path in manifest_files():
        with open(path) as handle:
            documents = [d for d in yaml.safe_load_all(handle) if d]
        assert documents, path
        for document in documents:
            for version in VERSIONS:
                try:
                    kubernetes_validate.validate(document, version, strict=True)
                except kubernetes_validate.ValidationError as error:
                    pytest.fail(f"{os.path.basename(path)}: {document['kind']}/{document['metadata']['name']} "
                                f"is not valid Kubernetes {version}: {error.message} at {list(error.path)}")
                checked += 1
    assert checked >= 2 * 40, checked


def test_the_validator_is_not_a_rubber_stamp():
    bad = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": 1}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, VERSIONS[-1], strict=True)
    unknown = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}, "spec": {"replica": 1}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(unknown, VERSIONS[-1], strict=True)
