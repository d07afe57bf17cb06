// KeychainKeyStore: the core's SecureKeyStore on the Secure Enclave / Keychain.
import Foundation
import LocalAuthentication
import Security
import WardCore

/// Wraps Ward's vault key with a Secure Enclave P-256 key (ECIES, X9.63 KDF, AES-GCM) that
/// never leaves the enclave, is usable only on this device while it is unlocked
/// (`kSecAttrAccessibleWhenUnlockedThisDeviceOnly`) and only after Face ID / Touch ID with the
/// currently enrolled biometry (`.biometryCurrentSet`: re-enrolling biometrics invalidates it).
/// `destroyKey` deletes the enclave key: the crypto-shred step of a wipe.
final class KeychainKeyStore: SecureKeyStore, @unchecked Sendable {
    private let algorithm = SecKeyAlgorithm.eciesEncryptionCofactorVariableIVX963SHA256AESGCM

    func wrapKey(alias: String, key: Data) throws -> Data {
        let privateKey = try existingKey(alias, prompt: nil) ?? createKey(alias)
        guard let publicKey = SecKeyCopyPublicKey(privateKey) else {
            throw KeyStoreError.Unavailable(detail: "no public key")
        }
        var error: Unmanaged<CFError>?
        guard let wrapped = SecKeyCreateEncryptedData(publicKey, algorithm, key as CFData, &error) as Data? else {
            throw mapError(error?.takeRetainedValue())
        }
        return wrapped
    }

    func unwrapKey(alias: String, wrapped: Data) throws -> Data {
        guard let privateKey = try existingKey(alias, prompt: "Unlock Ward") else {
            throw KeyStoreError.KeyInvalidated
        }
        var error: Unmanaged<CFError>?
        // Decrypting with the enclave key shows the Face ID / Touch ID prompt.
        guard let key = SecKeyCreateDecryptedData(privateKey, algorithm, wrapped as CFData, &error) as Data? else {
            throw mapError(error?.takeRetainedValue())
        }
        return key
    }

    func destroyKey(alias: String) throws {
        let query: [String: Any] = [
            kSecClass as String: kSecClassKey,
            kSecAttrApplicationTag as String: tag(alias),
        ]
        let status = SecItemDelete(query as CFDictionary)
        guard status == errSecSuccess || status == errSecItemNotFound else {
            throw KeyStoreError.Unavailable(detail: "SecItemDelete \(status)")
        }
    }

    private func tag(_ alias: String) -> Data { Data("org.ward.vault.\(alias)".utf8) }

    private func createKey(_ alias: String) throws -> SecKey {
        var error: Unmanaged<CFError>?
        guard let access = SecAccessControlCreateWithFlags(
            kCFAllocatorDefault,
            kSecAttrAccessibleWhenUnlockedThisDeviceOnly,
            [.privateKeyUsage, .biometryCurrentSet],
            &error
        ) else {
            throw mapError(error?.takeRetainedValue())
        }
        var attributes: [String: Any] = [
            kSecAttrKeyType as String: kSecAttrKeyTypeECSECPrimeRandom,
            kSecAttrKeySizeInBits as String: 256,
            kSecPrivateKeyAttrs as String: [
                kSecAttrIsPermanent as String: true,
                kSecAttrApplicationTag as String: tag(alias),
                kSecAttrAccessControl as String: access,
            ] as [String: Any],
        ]
        // The simulator has no Secure Enclave: there the key is an ordinary Keychain key.
        if ProcessInfo.processInfo.environment["SIMULATOR_DEVICE_NAME"] == nil {
            attributes[kSecAttrTokenID as String] = kSecAttrTokenIDSecureEnclave
        }
        guard let key = SecKeyCreateRandomKey(attributes as CFDictionary, &error) else {
            throw mapError(error?.takeRetainedValue())
        }
        return key
    }

    private func existingKey(_ alias: String, prompt: String?) throws -> SecKey? {
        var query: [String: Any] = [
            kSecClass as String: kSecClassKey,
            kSecAttrApplicationTag as String: tag(alias),
            kSecAttrKeyType as String: kSecAttrKeyTypeECSECPrimeRandom,
            kSecReturnRef as String: true,
        ]
        if let prompt {
            let context = LAContext()
            context.localizedReason = prompt
            query[kSecUseAuthenticationContext as String] = context
        }
        var item: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &item)
        switch status {
        case errSecSuccess:
            guard let found = item else { return nil }
            return (found as! SecKey)
        case errSecItemNotFound:
            return nil
        case errSecUserCanceled:
            throw KeyStoreError.UserCancelled
        default:
            throw KeyStoreError.Unavailable(detail: "SecItemCopyMatching \(status)")
        }
    }

    private func mapError(_ error: CFError?) -> KeyStoreError {
        guard let error else { return .Unavailable(detail: "unknown") }
        let code = CFErrorGetCode(error)
        if code == Int(errSecUserCanceled) || code == LAError.userCancel.rawValue || code == LAError.appCancel.rawValue {
            return .UserCancelled
        }
        if code == Int(errSecItemNotFound) || code == LAError.biometryNotEnrolled.rawValue {
            return .KeyInvalidated
        }
        return .Unavailable(detail: "\(CFErrorGetDomain(error) as String) \(code)")
    }
}
