// WardSession: the app's one handle to its vault and the lock state machine around it.
import Foundation
import WardCore

/// Which top-level screen the session allows.
public enum SessionState: Equatable {
    case noVault
    case locked
    case unlocked
    case wiped
    /// An admin revoked this phone and the core holds the verified wipe command: show no data;
    /// the wipe finishes at the next sync or start.
    case wipePending
}

/// The device-wide notice every screen shows (not only the sync screen): a pending wipe, the
/// offline lease about to run out, a rate limit. `nil` when there is nothing to say.
public func deviceNotice(_ s: SyncStatus, nowMs: Int64) -> String? {
    if s.wipePending { return wipePendingNotice }
    return leaseNotice(s.lease, nowMs: nowMs)
}

/// The lease part of `deviceNotice`.
public func leaseNotice(_ lease: LeaseState, nowMs: Int64) -> String? {
    switch lease {
    case .warning(let expiresAtMs):
        let hours = max(0, (expiresAtMs - nowMs) / 3_600_000)
        return "Connect within \(hours) hours or this phone's Ward data will be wiped."
    case .expired:
        return "Offline too long: this phone's Ward data will be wiped."
    default:
        return nil
    }
}

public let wipePendingNotice =
    "This phone was revoked by your clinic: its Ward data is hidden and will be wiped. Connect to hand over unsynced work."

/// After a 429: when the next sync may run.
public func rateLimitNotice(_ retryAfterSeconds: UInt64) -> String {
    "The server asked Ward to slow down: next sync in \(max(1, retryAfterSeconds / 60)) min."
}

/// Owns the `WardVault`: create, unlock (the key store shows Face ID / Touch ID), lock, idle
/// lock, wipe. Repositories reach the vault only through `call`, which runs on the core queue and
/// turns `WardError.Locked` / `.Wiped` from any call into a state change.
@MainActor
public final class WardSession: ObservableObject {
    @Published public private(set) var state: SessionState
    /// The device-wide notice (`deviceNotice`); every screen's model exposes it as `notice`.
    @Published public private(set) var notice: String?

    public let executor: CoreExecutor
    private let vaultURL: URL
    private let keyStore: SecureKeyStore
    private var vault: WardVault?
    private var lastInteraction = Date()

    public init(vaultURL: URL, keyStore: SecureKeyStore, executor: CoreExecutor = CoreExecutor()) {
        self.vaultURL = vaultURL
        self.keyStore = keyStore
        self.executor = executor
        let exists = FileManager.default.fileExists(atPath: vaultURL.appendingPathComponent("vault.db").path)
        state = exists ? .locked : .noVault
    }

    /// Creates the vault for a newly enrolled device; it starts unlocked.
    public func create(tenantId: String, deviceId: String, userId: String) async throws {
        try VaultFolder.prepare(vaultURL)
        let config = VaultConfig(dir: vaultURL.path, tenantId: tenantId, deviceId: deviceId, userId: userId)
        let store = keyStore
        vault = try await executor.run { try WardVault.create(config: config, keyStore: store) }
        touch()
        state = .unlocked
    }

    /// Unlocks, opening the vault first if needed. Throws `WardError.KeyUnavailable` when the
    /// user cancels the biometric prompt; the state stays `.locked`.
    public func unlock() async throws {
        let store = keyStore
        let path = vaultURL.path
        let existing = vault
        do {
            let opened = try await executor.run { () -> WardVault in
                let v = try existing ?? WardVault.open(dir: path, keyStore: store)
                try v.unlock()
                return v
            }
            vault = opened
        } catch WardError.Wiped {
            state = .wiped
            throw WardError.Wiped
        }
        touch()
        state = .unlocked
    }

    /// Locks now (app backgrounded, user action).
    public func lock() {
        vault?.lock()
        if state == .unlocked { state = .locked }
    }

    /// Records user interaction for the idle lock.
    public func touch() {
        lastInteraction = Date()
    }

    /// Locks when the user has been idle for the policy's timeout, or the core's own idle timer
    /// ran out. Call from a timer and when returning to the foreground.
    @discardableResult
    public func lockIfIdle() async -> Bool {
        guard let v = vault, state == .unlocked else { return false }
        let idleFor = Date().timeIntervalSince(lastInteraction)
        let locked = (try? await executor.run { () -> Bool in
            let limit = TimeInterval(v.policy().idleLockSeconds)
            if limit > 0 && idleFor > limit {
                v.lock()
                return true
            }
            return v.lockIfIdle()
        }) ?? false
        if locked { state = .locked }
        return locked
    }

    /// The core wiped the vault itself (expired offline lease, wipe command): re-enroll.
    public func markWiped() {
        state = .wiped
    }

    /// A wipe command is pending: the no-data screen, and the notice says why.
    public func markWipePending() {
        notice = wipePendingNotice
        state = .wipePending
    }

    /// Sets the device-wide notice.
    public func publishNotice(_ text: String?) {
        notice = text
    }

    /// Crypto-shreds the vault: the key store's key first, then the files.
    public func wipe() async throws {
        let v = try requireVault()
        try await executor.run { try v.wipe() }
        state = .wiped
    }

    /// Runs `body` against the vault on the core queue.
    public func call<T>(_ body: @escaping (WardVault) throws -> T) async throws -> T {
        let v = try requireVault()
        do {
            return try await executor.run { try body(v) }
        } catch WardError.Locked {
            state = .locked
            throw WardError.Locked
        } catch WardError.Wiped {
            state = .wiped
            throw WardError.Wiped
        } catch WardError.WipePending {
            markWipePending()
            throw WardError.WipePending
        }
    }

    /// The open vault (for `WardSync`).
    public func requireVault() throws -> WardVault {
        guard let v = vault else { throw WardError.Locked }
        return v
    }
}

/// The vault folder: complete file protection (unreadable while the phone is locked) and
/// excluded from iCloud / iTunes backups.
public enum VaultFolder {
    public static func prepare(_ url: URL) throws {
        try FileManager.default.createDirectory(
            at: url,
            withIntermediateDirectories: true,
            attributes: [.protectionKey: FileProtectionType.complete]
        )
        var values = URLResourceValues()
        values.isExcludedFromBackup = true
        var folder = url
        try folder.setResourceValues(values)
    }
}
