// Repositories: async wrappers over the vault's sub-objects (clients, notes, photos, consents).
import Foundation
import WardCore

/// Clients.
public struct ClientRepository {
    let session: WardSession
    public init(session: WardSession) { self.session = session }

    public func list() async throws -> [ClientView] {
        try await session.call { v in try v.clients().list() }
    }

    public func search(_ query: String, limit: Int = 50) async throws -> [SearchHit] {
        let q = query.trimmingCharacters(in: .whitespaces)
        if q.isEmpty { return [] }
        return try await session.call { v in try v.clients().search(query: q, limit: UInt32(limit)) }
    }

    public func get(_ clientId: String) async throws -> ClientView {
        try await session.call { v in try v.clients().get(clientId: clientId) }
    }

    public func create(displayName: String, dateOfBirth: String?, externalRef: String?) async throws -> ClientView {
        let input = ClientInput(displayName: displayName, dateOfBirth: dateOfBirth, externalRef: externalRef)
        return try await session.call { v in try v.clients().create(input: input) }
    }
}

/// Notes: drafts, signing, addenda.
public struct NoteRepository {
    let session: WardSession
    public init(session: WardSession) { self.session = session }

    public func list(clientId: String) async throws -> [NoteSummary] {
        try await session.call { v in try v.notes().list(clientId: clientId) }
    }

    public func get(_ noteId: String) async throws -> NoteView {
        try await session.call { v in try v.notes().get(noteId: noteId) }
    }

    public func createDraft(clientId: String, body: NoteBody) async throws -> NoteView {
        try await session.call { v in try v.notes().create(clientId: clientId, body: body) }
    }

    public func edit(noteId: String, baseVersionId: String, body: NoteBody) async throws -> NoteView {
        try await session.call { v in try v.notes().edit(noteId: noteId, baseVersionId: baseVersionId, body: body) }
    }

    public func sign(noteId: String, versionId: String) async throws -> NoteView {
        try await session.call { v in try v.notes().sign(noteId: noteId, versionId: versionId) }
    }

    public func amend(noteId: String, text: String) async throws -> NoteView {
        try await session.call { v in try v.notes().amend(noteId: noteId, text: text) }
    }
}

/// Photos: captured bytes go from memory to the core; decrypted bytes come back into memory.
public struct PhotoRepository {
    let session: WardSession
    public init(session: WardSession) { self.session = session }

    public func capture(clientId: String, jpeg: Data, input: PhotoInput) async throws -> PhotoView {
        try await session.call { v in try v.photos().capture(clientId: clientId, image: jpeg, input: input, thumbnail: nil) }
    }

    public func list(clientId: String) async throws -> [PhotoView] {
        try await session.call { v in try v.photos().list(clientId: clientId) }
    }

    public func read(_ photoId: String) async throws -> Data {
        try await session.call { v in try v.photos().read(photoId: photoId) }
    }

    public func thumbnail(_ photoId: String) async throws -> Data {
        try await session.call { v in try v.photos().thumbnail(photoId: photoId) }
    }
}

/// Consents.
public struct ConsentRepository {
    let session: WardSession
    public init(session: WardSession) { self.session = session }

    public func list(clientId: String) async throws -> [ConsentView] {
        try await session.call { v in try v.consents().list(clientId: clientId) }
    }

    public func record(clientId: String, scopes: [ConsentScope], detail: String?) async throws -> ConsentView {
        try await session.call { v in try v.consents().record(clientId: clientId, scopes: scopes, detail: detail) }
    }

    public func withdraw(_ consentId: String) async throws -> ConsentView {
        try await session.call { v in try v.consents().withdraw(consentId: consentId) }
    }

    /// The newest clinical consent that is not withdrawn.
    public func activeClinical(clientId: String) async throws -> ConsentView? {
        try await list(clientId: clientId)
            .filter { $0.withdrawnAtMs == nil && $0.scopes.contains(.clinical) }
            .max { $0.givenAtMs < $1.givenAtMs }
    }
}

/// One entry of a client's timeline.
public enum TimelineItem: Identifiable {
    case note(NoteSummary)
    case photo(PhotoView)
    case consent(ConsentView)

    public var id: String {
        switch self {
        case .note(let n): return n.noteId
        case .photo(let p): return p.photoId
        case .consent(let c): return c.consentId
        }
    }

    public var atMs: Int64 {
        switch self {
        case .note(let n): return n.updatedAtMs
        case .photo(let p): return p.takenAtMs
        case .consent(let c): return c.givenAtMs
        }
    }
}

/// Notes, photos and consents, newest first.
public func timelineOf(notes: [NoteSummary], photos: [PhotoView], consents: [ConsentView]) -> [TimelineItem] {
    let items = notes.map { TimelineItem.note($0) } + photos.map { TimelineItem.photo($0) } + consents.map { TimelineItem.consent($0) }
    return items.sorted { $0.atMs == $1.atMs ? $0.id < $1.id : $0.atMs > $1.atMs }
}

/// What the user is told about a failure (no clinical content, and what to do next).
public func userMessage(_ error: Error) -> String {
    switch error {
    case WardError.Locked: return "Ward is locked. Unlock to continue."
    case WardError.KeyUnavailable: return "Unlock was cancelled or the device key is unavailable. Try again."
    case WardError.WrongKey: return "This vault cannot be opened on this device."
    case WardError.Wiped: return "This device was wiped. Enroll it again."
    case WardError.WipePending: return wipePendingNotice
    case WardError.RateLimited(let retryAfterSeconds, _):
        return "The server asked Ward to slow down. Try again in \(max(1, retryAfterSeconds / 60)) min; your work is kept on this phone."
    case WardError.NotFound: return "That record no longer exists."
    case WardError.InvalidInput(let detail): return "Check the input: \(detail)"
    case WardError.NotAllowed(let detail): return "Not allowed: \(detail)"
    case WardError.Offline: return "No connection. Your work is kept on this phone and syncs later."
    case WardError.SignInRequired: return "Sign in again with your passkey."
    case WardError.Cancelled: return "Cancelled."
    default: return "Something went wrong. Please report it."
    }
}
