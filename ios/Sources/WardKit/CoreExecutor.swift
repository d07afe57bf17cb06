// CoreExecutor: runs blocking ward-core calls off the main thread and resumes async callers.
import Foundation

/// Every ward-core call blocks (SQLite, file I/O, AES-GCM over whole photos, network for sync).
/// `run` executes one on a private queue and suspends the caller meanwhile, so SwiftUI code can
/// `await` the core without ever blocking the main thread. Sync gets its own serial queue so a
/// long sync never delays the UI's reads.
public final class CoreExecutor: @unchecked Sendable {
    private let core = DispatchQueue(label: "org.ward.core", qos: .userInitiated, attributes: .concurrent)
    private let syncQueue = DispatchQueue(label: "org.ward.sync", qos: .utility)

    public init() {}

    /// Runs `body` on the core queue.
    public func run<T>(_ body: @escaping () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            core.async {
                continuation.resume(with: Result { try body() })
            }
        }
    }

    /// Runs `body` on the sync queue.
    public func runSync<T>(_ body: @escaping () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            syncQueue.async {
                continuation.resume(with: Result { try body() })
            }
        }
    }
}
