import KnotErrors

enum KnotErrorShortcut {
    static let unauthorized = KnotError.unauthorized()
    static let adminOnly = KnotError.forbidden("this action is for administrators")
}
