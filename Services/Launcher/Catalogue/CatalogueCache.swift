import Foundation

/// Each person's merged catalogue for a few seconds, so listing templates and
/// launching do not ask the files service every time. The launcher's own
/// writes invalidate the person's entry at once; a file saved through the
/// files API shows within `lifetime`. An entry fetched while it was being
/// invalidated is not stored (generations), so a write is never hidden by a
/// read that raced it.
actor CatalogueCache {
    struct Entry {
        var entries: [CatalogueEntry]
        var stored: ContinuousClock.Instant
    }

    let lifetime: Duration
    let maxUsers: Int
    private var entries: [String: Entry] = [:]
    private var generations: [String: Int] = [:]

    init(lifetime: Duration, maxUsers: Int = 10_000) {
        self.lifetime = lifetime
        self.maxUsers = maxUsers
    }

    /// The fresh entry, if any.
    func fresh(_ user: String) -> [CatalogueEntry]? {
        guard let entry = entries[user], ContinuousClock.now - entry.stored < lifetime else { return nil }
        return entry.entries
    }

    /// The last entry whatever its age: the fallback when the files service cannot be reached.
    func stale(_ user: String) -> [CatalogueEntry]? { entries[user]?.entries }

    func generation(_ user: String) -> Int { generations[user, default: 0] }

    func store(_ value: [CatalogueEntry], for user: String, generation: Int) {
        guard generations[user, default: 0] == generation else { return }
        if entries.count >= maxUsers && entries[user] == nil {
            // Drop what has expired; if everything is fresh, start over (it is only a cache).
            let now = ContinuousClock.now
            entries = entries.filter { now - $0.value.stored < lifetime }
            if entries.count >= maxUsers { entries.removeAll() }
        }
        entries[user] = Entry(entries: value, stored: .now)
    }

    func invalidate(_ user: String) {
        entries[user] = nil
        generations[user, default: 0] += 1
    }
}
