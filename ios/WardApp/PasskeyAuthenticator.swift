// PasskeyAuthenticator: the core's PasskeyProvider on ASAuthorization platform passkeys.
import AuthenticationServices
import Foundation
import UIKit
import WardCore

/// Creates and uses passkeys with `ASAuthorizationPlatformPublicKeyCredentialProvider`. The core
/// hands over the server's WebAuthn options JSON (`{"publicKey": {...}}`) and expects WebAuthn
/// JSON back. The core calls this on its sync queue, so it blocks there while the system sheet
/// runs on the main thread. The RP id's domain must list the app in its
/// apple-app-site-association file (webcredentials), which the backend serves.
final class PasskeyAuthenticator: NSObject, PasskeyProvider, @unchecked Sendable {
    private weak var anchor: UIWindow?
    private var result: Result<String, PasskeyError> = .failure(.Failed(detail: "no result"))
    private let done = DispatchSemaphore(value: 0)
    private var controller: ASAuthorizationController?

    init(anchor: UIWindow?) {
        self.anchor = anchor
    }

    func createPasskey(optionsJson: String) throws -> String {
        let options = try publicKey(optionsJson)
        guard
            let rp = options["rp"] as? [String: Any], let rpId = rp["id"] as? String,
            let user = options["user"] as? [String: Any], let name = user["name"] as? String,
            let userId = (user["id"] as? String).flatMap(base64url),
            let challenge = (options["challenge"] as? String).flatMap(base64url)
        else { throw PasskeyError.Failed(detail: "malformed creation options") }
        let provider = ASAuthorizationPlatformPublicKeyCredentialProvider(relyingPartyIdentifier: rpId)
        let request = provider.createCredentialRegistrationRequest(challenge: challenge, name: name, userID: userId)
        return try perform(request)
    }

    func getPasskey(optionsJson: String) throws -> String {
        let options = try publicKey(optionsJson)
        guard
            let rpId = options["rpId"] as? String,
            let challenge = (options["challenge"] as? String).flatMap(base64url)
        else { throw PasskeyError.Failed(detail: "malformed request options") }
        let provider = ASAuthorizationPlatformPublicKeyCredentialProvider(relyingPartyIdentifier: rpId)
        let request = provider.createCredentialAssertionRequest(challenge: challenge)
        let allowed = (options["allowCredentials"] as? [[String: Any]]) ?? []
        request.allowedCredentials = allowed.compactMap { entry in
            (entry["id"] as? String).flatMap(base64url).map { ASAuthorizationPlatformPublicKeyCredentialDescriptor(credentialID: $0) }
        }
        return try perform(request)
    }

    private func perform(_ request: ASAuthorizationRequest) throws -> String {
        precondition(!Thread.isMainThread, "passkey wait on the main thread")
        DispatchQueue.main.async {
            let controller = ASAuthorizationController(authorizationRequests: [request])
            controller.delegate = self
            controller.presentationContextProvider = self
            self.controller = controller
            controller.performRequests()
        }
        done.wait()
        return try result.get()
    }

    private func publicKey(_ json: String) throws -> [String: Any] {
        guard
            let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
            let options = object["publicKey"] as? [String: Any]
        else { throw PasskeyError.Failed(detail: "options are not WebAuthn JSON") }
        return options
    }

    private func finish(_ r: Result<String, PasskeyError>) {
        result = r
        controller = nil
        done.signal()
    }
}

extension PasskeyAuthenticator: ASAuthorizationControllerDelegate, ASAuthorizationControllerPresentationContextProviding {
    func presentationAnchor(for controller: ASAuthorizationController) -> ASPresentationAnchor {
        anchor ?? ASPresentationAnchor()
    }

    func authorizationController(controller: ASAuthorizationController, didCompleteWithAuthorization authorization: ASAuthorization) {
        var response: [String: Any] = [:]
        var id = Data()
        if let r = authorization.credential as? ASAuthorizationPlatformPublicKeyCredentialRegistration {
            id = r.credentialID
            response = [
                "clientDataJSON": base64url(r.rawClientDataJSON),
                "attestationObject": base64url(r.rawAttestationObject ?? Data()),
            ]
        } else if let a = authorization.credential as? ASAuthorizationPlatformPublicKeyCredentialAssertion {
            id = a.credentialID
            response = [
                "clientDataJSON": base64url(a.rawClientDataJSON),
                "authenticatorData": base64url(a.rawAuthenticatorData),
                "signature": base64url(a.signature),
                "userHandle": base64url(a.userID),
            ]
        } else {
            finish(.failure(.Failed(detail: "unexpected credential")))
            return
        }
        let credential: [String: Any] = [
            "id": base64url(id),
            "rawId": base64url(id),
            "type": "public-key",
            "response": response,
            "extensions": [String: Any](),
        ]
        guard let data = try? JSONSerialization.data(withJSONObject: credential), let json = String(data: data, encoding: .utf8) else {
            finish(.failure(.Failed(detail: "encoding the credential")))
            return
        }
        finish(.success(json))
    }

    func authorizationController(controller: ASAuthorizationController, didCompleteWithError error: Error) {
        let code = (error as? ASAuthorizationError)?.code
        if code == .canceled {
            finish(.failure(.UserCancelled))
        } else {
            finish(.failure(.Failed(detail: "ASAuthorizationError \(String(describing: code?.rawValue))")))
        }
    }
}

func base64url(_ data: Data) -> String {
    data.base64EncodedString()
        .replacingOccurrences(of: "+", with: "-")
        .replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}

func base64url(_ string: String) -> Data? {
    var s = string.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    while s.count % 4 != 0 { s += "=" }
    return Data(base64Encoded: s)
}
