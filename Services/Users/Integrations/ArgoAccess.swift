import Foundation
import KnotKubernetes
import KnotRuntime

/// What Argo Workflows' single sign-on needs in each person's namespace.
///
/// Argo's server, with `sso.rbac.enabled` and namespace delegation
/// (`SSO_DELEGATE_RBAC_TO_NAMESPACE=true`), picks for a signed-in person the
/// service account in the namespace being viewed whose
/// `workflows.argoproj.io/rbac-rule` (an `expr` expression over the ID
/// token's claims) holds, highest `rbac-rule-precedence` first, and acts with
/// that account's token Secret (named `<account>.service-account-token`
/// since Argo 3.4). Knot keeps in `knot-<user>`: that account, its token
/// Secret, a Role limited to Argo's own resources and reading pods and their
/// logs there, and the binding. Nothing is cluster-wide, and nothing here is
/// ever bound to `cluster-admin`; all of it lives in the namespace, so
/// deleting the namespace (what deleting the person does) removes it.
struct ArgoAccess: Sendable {
    static let ruleAnnotation = "workflows.argoproj.io/rbac-rule"
    static let precedenceAnnotation = "workflows.argoproj.io/rbac-rule-precedence"
    /// Above the catch-all login account (precedence 0) an operator keeps in Argo's own namespace.
    static let precedence = "10"

    let username: String
    let namespace: String
    /// A team's namespace is open to its members: Knot puts team names in the `groups` claim.
    var team = false

    var accountName: String { "argo-\(username)" }
    var tokenSecretName: String { "\(accountName).service-account-token" }
    var roleName: String { "knot-argo" }

    /// Over claims Knot's provider puts in every ID token (`profile`, `groups`
    /// scopes); usernames are DNS labels (no quotes), so the rule cannot be bent.
    var rule: String { team ? "'\(username)' in groups" : "preferred_username == '\(username)'" }

    var labels: [String: String] { [KnotLabels.managedBy: "knot", KnotLabels.user: username, "knot.io/tool": "argo"] }

    func objects() throws -> [UnstructuredObject] {
        let meta = { (name: String) in ObjectMeta(name: name, namespace: namespace, labels: labels) }
        var account = ServiceAccount(metadata: meta(accountName))
        account.metadata.annotations = [Self.ruleAnnotation: rule, Self.precedenceAnnotation: Self.precedence]
        var token = Secret(metadata: meta(tokenSecretName), type: "kubernetes.io/service-account-token")
        token.metadata.annotations = ["kubernetes.io/service-account.name": accountName]
        let role = Role(
            metadata: meta(roleName),
            rules: [
                PolicyRule(
                    apiGroups: ["argoproj.io"],
                    resources: [
                        "workflows", "workflowtemplates", "cronworkflows", "workfloweventbindings", "workflowtaskresults",
                        "workflowartifactgctasks", "sensors", "eventsources",
                    ],
                    verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]),
                PolicyRule(apiGroups: [""], resources: ["pods", "pods/log", "events"], verbs: ["get", "list", "watch"]),
            ])
        let binding = RoleBinding(
            metadata: meta(roleName), roleRef: RoleRef(kind: "Role", name: roleName),
            subjects: [RBACSubject(kind: "ServiceAccount", name: accountName, namespace: namespace)])
        // The account before its token Secret: the token controller fills a Secret only for an existing account.
        let typed: [any KubernetesObject] = [account, token, role, binding]
        return try typed.map { try $0.unstructured() }
    }

    /// The dashboard's link: Argo's UI opened on the person's namespace.
    static func link(base: String, namespace: String) -> String { base + "workflows/" + namespace }
}
