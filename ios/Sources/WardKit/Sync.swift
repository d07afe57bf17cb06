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
    /// No sync (manual or background) before this date: the server answered 429.
    public private(set) var notBefore = Date.distantPast

    public init(session: WardSession) { self.session = session }

    private func handle() throws -> WardSync {
        if let s = sync { return s }
        let s = try WardSync(vault: try session.requireVault())
        sync = s
        return s
    }

    /// The status; it also refreshes the device-wide notice every screen shows.
    public func status() async throws -> SyncStatus {
        let s = try handle()
        let status = try await session.executor.runSync { try s.status() }
        if status.wipePending {
            session.markWipePending()
        } else if notBefore <= Date() {
            session.publishNotice(deviceNotice(status, nowMs: Int64(Date().timeIntervalSince1970 * 1000)))
        }
        return status
    }

    /// Seconds a background sync must still wait (0: may run now).
    public func nextSyncDelay() -> TimeInterval { max(0, notBefore.timeIntervalSinceNow) }

    /// Records a 429 so no sync runs before the server's retry time.
    public func rateLimited(retryAfterSeconds: UInt64) {
        notBefore = Date().addingTimeInterval(TimeInterval(retryAfterSeconds))
        session.publishNotice(rateLimitNotice(retryAfterSeconds))
    }

    /// After every unlock at app start: when the offline lease ran out the core wipes the vault
    /// and the session moves to `.wiped`. Returns whether it wiped.
    public func enforceLease() async throws -> Bool {
        let s = try handle()
        do {
            let wiped = try await session.executor.runSync { try s.enforceLease() }
            if wiped { session.markWiped() }
            return wiped
        } catch WardError.WipePending {
            session.markWipePending()
            return false
        }
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

    /// Runs one sync; cancelling the consuming task cancels the core's sync. Before the time a
    /// 429 named it fails at once with `RateLimited`.
    public func syncNow() throws -> AsyncThrowingStream<SyncEvent, Error> {
        let wait = nextSyncDelay()
        if wait > 0 {
            throw WardError.RateLimited(retryAfterSeconds: UInt64(wait.rounded(.up)), detail: "waiting for the server's retry time")
        }
        let s = try handle()
        let executor = session.executor
        return AsyncThrowingStream { continuation in
            let listener = StreamListener(continuation)
            let task = Task {
                do {
                    let summary = try await executor.runSync { try s.sync(listener: listener) }
                    continuation.yield(.done(summary))
                    continuation.finish()
                } catch WardError.RateLimited(let retryAfterSeconds, let detail) {
                    await self.rateLimited(retryAfterSeconds: retryAfterSeconds)
                    continuation.finish(throwing: WardError.RateLimited(retryAfterSeconds: retryAfterSeconds, detail: detail))
                } catch WardError.WipePending {
                    await self.session.markWipePending()
                    continuation.finish(throwing: WardError.WipePending)
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
