"""The integrated tools in the menu (issue 11): `GET /api/v1/users/integrations`
lists only the tools this installation configured (scripts/test configures
JupyterHub, Argo Workflows and Grafana; not Harbor or Gitea), personalised
(Argo opens on the person's namespace); the generated configuration is for
administrators only. The Kubernetes objects for Argo and Harbor are checked
against the API double in the Swift tests (IntegrationAccessTests), since the
end-to-end services run on the local runtime.
"""
import os


def test_the_menu_lists_only_configured_tools_personalised(knot, make_user):
    name, session = make_user("tools")
    answer = session.get(f"{knot.url}/api/v1/users/integrations")
    assert answer.status_code == 200, answer.text
    links = answer.json()["integrations"]
    by_tool = {link["tool"]: link for link in links}
    assert set(by_tool) == {"jupyterhub", "argo", "grafana"}, links
    hub = os.environ["KNOT_JUPYTERHUB_URL"].rstrip("/")
    assert by_tool["jupyterhub"] == {"id": "notebooks", "tool": "jupyterhub", "title": "Notebooks", "url": hub + "/hub/"}
    assert by_tool["argo"] == {"id": "workflows", "tool": "argo", "title": "Workflows",
                               "url": f"https://argo.knot.localhost/workflows/knot-{name}"}
    assert by_tool["grafana"]["url"] == "https://grafana.knot.localhost/"
    assert [link["id"] for link in links] == ["notebooks", "workflows", "metrics"]


def test_the_menu_needs_a_session(knot):
    answer = knot.client().get(f"{knot.url}/api/v1/users/integrations")
    assert answer.status_code == 401, answer.status_code
    assert answer.json()["error"]["code"], answer.text


def test_generated_configuration_is_for_administrators(knot, admin, make_user):
    _, session = make_user("toolcfg")
    answer = session.get(f"{knot.url}/api/v1/users/integrations/jupyterhub/config")
    assert answer.status_code == 403, answer.status_code
    assert answer.json()["error"]["code"] == "forbidden"

    answer = admin.get(f"{knot.url}/api/v1/users/integrations/jupyterhub/config")
    assert answer.status_code == 200
    text = answer.text
    assert 'c.GenericOAuthenticator.username_claim = "preferred_username"' in text
    assert "c.GenericOAuthenticator.enable_pkce = True" in text
    assert 'c.KubeSpawner.user_namespace_template = "knot-{username}"' in text
    assert 'c.KubeSpawner.notebook_dir = "/files/private/notebooks"' in text
    # The secret's file is named; the secret is not in the text.
    secret_file = os.environ["KNOT_JUPYTERHUB_CLIENT_SECRET_FILE"]
    assert repr(secret_file).strip("'") in text
    with open(secret_file) as f:
        assert f.read().strip() not in text

    grafana = admin.get(f"{knot.url}/api/v1/users/integrations/grafana/config")
    assert grafana.status_code == 200 and "[auth.generic_oauth]" in grafana.text
    assert "role_attribute_path = contains(groups[*], 'admin')" in grafana.text
    # Gitea is not configured here; unknown tools are refused, not guessed.
    for tool in ("gitea", "harbor", "x" * 300):
        answer = admin.get(f"{knot.url}/api/v1/users/integrations/{tool}/config")
        assert answer.status_code == 404, (tool, answer.status_code)
        assert answer.json()["error"]["code"] == "not_found", answer.text
    # An encoded slash never reaches a file or another route (the edge refuses it).
    answer = admin.get(f"{knot.url}/api/v1/users/integrations/..%2F..%2Fetc/config")
    assert answer.status_code in (400, 404), answer.status_code
    assert answer.json()["error"]["code"], answer.text
