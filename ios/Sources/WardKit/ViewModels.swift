// View models for the SwiftUI screens: @MainActor ObservableObjects over the repositories,
// mirroring android/ward-kit's Kotlin view models screen for screen.
import Foundation
import WardCore

/// Lock screen: unlock triggers the key store's biometric prompt (through the core).
@MainActor
public final class LockModel: ObservableObject {
    @Published public private(set) var unlocking = false
    @Published public private(set) var error: String?
    let session: WardSession
    /// The device-wide notice shown above this screen (pending wipe, lease warning, rate limit).
    public var notice: String? { session.notice }

    public init(session: WardSession) { self.session = session }

    public func unlock() async {
        guard !unlocking else { return }
        unlocking = true
        error = nil
        do {
            try await session.unlock()
        } catch {
            self.error = userMessage(error)
        }
        unlocking = false
    }
}

/// One row of the client list.
public struct ClientRow: Identifiable, Equatable {
    public let id: String
    public let name: String
    public let detail: String?
}

/// Client list with search over names and note texts.
@MainActor
public final class ClientListModel: ObservableObject {
    @Published public var query = ""
    @Published public private(set) var rows: [ClientRow] = []
    @Published public private(set) var error: String?
    let clients: ClientRepository
    /// The device-wide notice shown above this screen (pending wipe, lease warning, rate limit).
    public var notice: String? { clients.session.notice }

    public init(clients: ClientRepository) { self.clients = clients }

    public func load() async {
        do {
            if query.trimmingCharacters(in: .whitespaces).isEmpty {
                rows = try await clients.list().map { ClientRow(id: $0.clientId, name: $0.displayName, detail: $0.dateOfBirth) }
            } else {
                var seen = Set<String>()
                rows = try await clients.search(query)
                    .filter { seen.insert($0.clientId).inserted }
                    .map { ClientRow(id: $0.clientId, name: $0.clientName, detail: $0.snippet) }
            }
            error = nil
        } catch {
            self.error = userMessage(error)
        }
    }

    public func add(name: String, dateOfBirth: String?) async -> ClientView? {
        do {
            let dob = dateOfBirth?.isEmpty == false ? dateOfBirth : nil
            let client = try await clients.create(displayName: name.trimmingCharacters(in: .whitespaces), dateOfBirth: dob, externalRef: nil)
            await load()
            return client
        } catch {
            self.error = userMessage(error)
            return nil
        }
    }
}

/// A client's timeline.
@MainActor
public final class TimelineModel: ObservableObject {
    @Published public private(set) var client: ClientView?
    @Published public private(set) var items: [TimelineItem] = []
    @Published public private(set) var hasClinicalConsent = false
    @Published public private(set) var error: String?
    let clientId: String
    let clients: ClientRepository
    /// The device-wide notice shown above this screen (pending wipe, lease warning, rate limit).
    public var notice: String? { clients.session.notice }
    let notes: NoteRepository
    let photos: PhotoRepository
    let consents: ConsentRepository

    public init(clientId: String, clients: ClientRepository, notes: NoteRepository, photos: PhotoRepository, consents: ConsentRepository) {
        self.clientId = clientId
        self.clients = clients
        self.notes = notes
        self.photos = photos
        self.consents = consents
    }

    public func load() async {
        do {
            client = try await clients.get(clientId)
            async let n = notes.list(clientId: clientId)
            async let p = photos.list(clientId: clientId)
            async let c = consents.list(clientId: clientId)
            let consentList = try await c
            items = timelineOf(notes: try await n, photos: try await p, consents: consentList)
            hasClinicalConsent = consentList.contains { $0.withdrawnAtMs == nil && $0.scopes.contains(.clinical) }
        } catch {
            self.error = userMessage(error)
        }
    }

    public func recordConsent(_ scopes: [ConsentScope], detail: String?) async {
        do {
            _ = try await consents.record(clientId: clientId, scopes: scopes, detail: detail)
            await load()
        } catch {
            self.error = userMessage(error)
        }
    }

    public func withdraw(_ consentId: String) async {
        do {
            _ = try await consents.withdraw(consentId)
            await load()
        } catch {
            self.error = userMessage(error)
        }
    }
}

/// Note editor: free text or SOAP; save, sign, amend.
@MainActor
public final class NoteEditorModel: ObservableObject {
    public enum Mode { case text, soap }
    @Published public var mode: Mode = .text
    @Published public var text = ""
    @Published public var subjective = ""
    @Published public var objective = ""
    @Published public var assessment = ""
    @Published public var plan = ""
    @Published public var addendum = ""
    @Published public private(set) var note: NoteView?
    @Published public private(set) var busy = false
    @Published public private(set) var error: String?
    let clientId: String
    let notes: NoteRepository
    /// The device-wide notice shown above this screen (pending wipe, lease warning, rate limit).
    public var notice: String? { notes.session.notice }

    public init(clientId: String, notes: NoteRepository) {
        self.clientId = clientId
        self.notes = notes
    }

    public var signed: Bool { note?.status == .signed }

    var body: NoteBody {
        switch mode {
        case .text: return .text(text: text)
        case .soap: return .soap(subjective: subjective, objective: objective, assessment: assessment, plan: plan)
        }
    }

    public func load(noteId: String) async {
        await perform { self.show(try await self.notes.get(noteId)) }
    }

    public func save() async {
        await perform { _ = try await self.saveNow() }
    }

    public func sign() async {
        await perform {
            let saved = try await self.saveNow()
            self.show(try await self.notes.sign(noteId: saved.noteId, versionId: saved.versionId))
        }
    }

    public func amend() async {
        guard let n = note, !addendum.isEmpty else { return }
        await perform {
            self.show(try await self.notes.amend(noteId: n.noteId, text: self.addendum))
            self.addendum = ""
        }
    }

    private func saveNow() async throws -> NoteView {
        if let n = note, signed { return n }
        let saved: NoteView
        if let n = note {
            saved = try await notes.edit(noteId: n.noteId, baseVersionId: n.versionId, body: body)
        } else {
            saved = try await notes.createDraft(clientId: clientId, body: body)
        }
        show(saved)
        return saved
    }

    private func show(_ n: NoteView) {
        note = n
        switch n.body {
        case .text(let t):
            mode = .text
            text = t
        case .soap(let s, let o, let a, let p):
            mode = .soap
            subjective = s
            objective = o
            assessment = a
            plan = p
        }
    }

    private func perform(_ body: @escaping () async throws -> Void) async {
        guard !busy else { return }
        busy = true
        error = nil
        do {
            try await body()
        } catch {
            self.error = userMessage(error)
        }
        busy = false
    }
}

/// Capture: the camera's in-memory JPEG goes to the core.
@MainActor
public final class CaptureModel: ObservableObject {
    public enum State: Equatable {
        case ready
        case saving
        case saved(PhotoView)
        case failed(String)
    }

    @Published public private(set) var state: State = .ready
    @Published public var caption = ""
    @Published public var series = ""
    @Published public var seriesLabel = ""
    let clientId: String
    let photos: PhotoRepository
    /// The device-wide notice shown above this screen (pending wipe, lease warning, rate limit).
    public var notice: String? { photos.session.notice }
    let consents: ConsentRepository

    public init(clientId: String, photos: PhotoRepository, consents: ConsentRepository) {
        self.clientId = clientId
        self.photos = photos
        self.consents = consents
    }

    /// `jpeg` is AVCapturePhoto.fileDataRepresentation(): memory only, never a file.
    public func captured(_ jpeg: Data) async {
        state = .saving
        do {
            let consent = try await consents.activeClinical(clientId: clientId)
            let input = PhotoInput(
                caption: caption,
                bodyArea: nil,
                consentId: consent?.consentId,
                series: series.isEmpty ? nil : series,
                seriesLabel: seriesLabel.isEmpty ? nil : seriesLabel
            )
            state = .saved(try await photos.capture(clientId: clientId, jpeg: jpeg, input: input))
        } catch {
            state = .failed(userMessage(error))
        }
    }

    public func failed(_ message: String) { state = .failed(message) }
    public func reset() { state = .ready }
}

/// Before/after comparison.
@MainActor
public final class CompareModel: ObservableObject {
    @Published public private(set) var before: PhotoView?
    @Published public private(set) var after: PhotoView?
    @Published public private(set) var beforeJpeg: Data?
    @Published public private(set) var afterJpeg: Data?
    @Published public private(set) var error: String?
    let clientId: String
    let photos: PhotoRepository
    /// The device-wide notice shown above this screen (pending wipe, lease warning, rate limit).
    public var notice: String? { photos.session.notice }

    public init(clientId: String, photos: PhotoRepository) {
        self.clientId = clientId
        self.photos = photos
    }

    public func load() async {
        do {
            let all = try await photos.list(clientId: clientId).sorted { $0.takenAtMs < $1.takenAtMs }
            let series = all.last { $0.series != nil }?.series
            let inSeries = series.map { s in all.filter { $0.series == s } } ?? all
            guard let first = inSeries.first, let last = inSeries.last, inSeries.count >= 2 else {
                error = "Take at least two photos of the same series to compare."
                return
            }
            before = first
            after = last
            beforeJpeg = try await photos.read(first.photoId)
            afterJpeg = try await photos.read(last.photoId)
        } catch {
            self.error = userMessage(error)
        }
    }

    /// Drops the decrypted bytes when the screen goes away.
    public func clear() {
        beforeJpeg = nil
        afterJpeg = nil
    }
}

/// Sync status and "sync now".
@MainActor
public final class SyncStatusModel: ObservableObject {
    @Published public private(set) var status: SyncStatus?
    @Published public private(set) var progress: String?
    @Published public private(set) var syncing = false
    @Published public private(set) var lastResult: String?
    @Published public private(set) var error: String?
    let sync: SyncRepository
    /// The device-wide notice shown above this screen (pending wipe, lease warning, rate limit).
    public var notice: String? { sync.session.notice }
    private var task: Task<Void, Never>?

    public init(sync: SyncRepository) { self.sync = sync }

    public var unsyncedTotal: UInt64 {
        guard let s = status else { return 0 }
        return s.unsyncedNotes + s.unsyncedPhotos + s.unsyncedClients + s.unsyncedOther
    }

    /// "Connect within …" while the offline lease is in its warning window.
    public var leaseWarning: String? {
        guard let lease = status?.lease else { return nil }
        return leaseNotice(lease, nowMs: Int64(Date().timeIntervalSince1970 * 1000))
    }

    public func refresh() async {
        do {
            status = try await sync.status()
        } catch {
            self.error = userMessage(error)
        }
    }

    public func syncNow() {
        guard !syncing else { return }
        syncing = true
        error = nil
        task = Task {
            do {
                for try await event in try sync.syncNow() {
                    switch event {
                    case .progress(let phase, let done, let total):
                        progress = "\(phase): \(done) / \(total)"
                    case .done(let summary):
                        lastResult = "Sent \(summary.pushed), received \(summary.pulled), photos \(summary.photosUploaded)"
                            + (summary.unreadable > 0 ? "; \(summary.unreadable) record(s) need a newer Ward (kept on this phone)" : "")
                            + (summary.clientsDropped > 0 ? "; \(summary.clientsDropped) client(s) removed from this phone (no longer on your care team)" : "")
                    }
                }
            } catch {
                self.error = userMessage(error)
            }
            syncing = false
            progress = nil
            await refresh()
        }
    }

    public func cancel() {
        task?.cancel()
    }
}

/// Settings and device info.
@MainActor
public final class SettingsModel: ObservableObject {
    @Published public private(set) var status: VaultStatus?
    @Published public private(set) var policy: Policy?
    @Published public private(set) var auditEvents: UInt64?
    @Published public private(set) var auditOk: Bool?
    @Published public private(set) var error: String?
    let session: WardSession
    /// The device-wide notice shown above this screen (pending wipe, lease warning, rate limit).
    public var notice: String? { session.notice }

    public init(session: WardSession) { self.session = session }

    public func load() async {
        do {
            let (st, p, verified) = try await session.call { v -> (VaultStatus, Policy, UInt64?) in
                (v.status(), v.policy(), try? v.audit().verify())
            }
            status = st
            policy = p
            auditEvents = verified
            auditOk = verified != nil
        } catch {
            self.error = userMessage(error)
        }
    }

    public func lockNow() { session.lock() }

    public func wipe() async {
        do {
            try await session.wipe()
        } catch {
            self.error = userMessage(error)
        }
    }
}
