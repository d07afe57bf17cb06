// SyncRepository: enrollment, passkey login and sync over WardSync, with progress as an
// AsyncStream.
import Foundation
import WardCore

/// One sync event: progress, or the summary at the end.
public enum SyncEvent {
    case progress(phase: String, done: UInt64, total: UInt64)
    case done(SyncSummary)
}

/// Forwards the core's progress callbacks into an AsyncStream.
final class StreamListener: SyncListener, @unchecked Sendable {
    let continuation: AsyncThrowingStream<SyncEvent, Error>.Continuation
    init(_ continuation: AsyncThrowingStream<SyncEvent, Error>.Continuation) { self.continuation = continuation }

    func onProgress(phase: String, done: UInt64, total: UInt64) {
        continuation.yield(.progress(phase: phase, done: done, total: total))
    }
}

@MainActor
public final class SyncRepository {
    let session: WardSession
    private var sync: WardSync?

    public init(session: WardSession) { self.session = session }

    private func handle() throws -> WardSync {
        if let s = sync { return s }
        let s = try WardSync(vault: try session.requireVault())
        sync = s
        return s
    }

    public func status() async throws -> SyncStatus {
        let s = try handle()
        return try await session.executor.runSync { try s.status() }
    }

    /// After every unlock at app start: when the offline lease ran out the core wipes the vault
    /// and the session moves to `.wiped`. Returns whether it wiped.
    public func enforceLease() async throws -> Bool {
        let s = try handle()
        let wiped = try await session.executor.runSync { try s.enforceLease() }
        if wiped { session.markWiped() }
        return wiped
    }

    public func enroll(server: String, inviteCode: String, userName: String, deviceName: String, passkey: PasskeyProvider) async throws -> String {
        let s = try handle()
        return try await session.executor.runSync {
            try s.enroll(server: server, inviteCode: inviteCode, userName: userName, deviceName: deviceName, passkey: passkey)
        }
    }

    public func login(passkey: PasskeyProvider) async throws -> String {
        let s = try handle()
        return try await session.executor.runSync { try s.login(passkey: passkey) }
    }

    /// Runs one sync; cancelling the consuming task cancels the core's sync.
    public func syncNow() throws -> AsyncThrowingStream<SyncEvent, Error> {
        let s = try handle()
        let executor = session.executor
        return AsyncThrowingStream { continuation in
            let listener = StreamListener(continuation)
            let task = Task {
                do {
                    let summary = try await executor.runSync { try s.sync(listener: listener) }
                    continuation.yield(.done(summary))
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { termination in
                if case .cancelled = termination {
                    s.cancel()
                    task.cancel()
                }
            }
        }
    }
}
