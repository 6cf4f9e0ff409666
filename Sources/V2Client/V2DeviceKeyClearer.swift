import Foundation
import HTTP
import Logging
import V2Model

/// One v2 device as the handler's per-device GET returned it: decoded, and the JSON object itself
/// (which holds keys: never logged or shown).
public struct V2DeviceRead: Sendable {
    public let device: V2Device
    /// The answer's JSON, verbatim: the body of SetDevice is built from it, so every field v2 holds
    /// goes back unchanged.
    public let json: Data

    /// True when v2 holds neither an AppKey nor a session for the device.
    public var keysCleared: Bool {
        guard let lorawan = device.lorawanDevice else { return true }
        return [lorawan.appKey, lorawan.nwkSKey, lorawan.appSKey].allSatisfy { $0 == nil || $0?.isZero == true }
            && (lorawan.devAddr == nil || lorawan.devAddr?.isZero == true)
    }
}

/// Reads a v2 device and clears its AppKey and session through the handler's SetDevice: the only v2
/// write of ttn-migrate, used by `cutover` (issue 14).
///
/// v2 has been read-only since July 2021 except for this: SetDevice may change only the AppKey, the
/// session (DevAddr, NwkSKey, AppSKey) and FCntUp (TTN commit 500bf74a, PR #792;
/// `reference/v2-and-peers.md` §B), which is what the official migrator uses to clear keys. The body
/// is the device as read with those four fields set to `""` (a key left out would be kept) and the
/// frame counters as read (absent counters would be reset to 0). Requests are paced to 5 per second per
/// client and per application, the handler's limit.
public struct V2DeviceKeyClearer: Sendable {
    /// Where one device is and the credentials to try, in order (an access key with `devices`, then
    /// the bearer token: DESIGN.md §4 "Handler access").
    public struct Address: Sendable {
        public var handlerURL: String
        public var applicationID: String
        public var deviceID: String
        public var credentials: [V2Credential]

        public init(handlerURL: String, applicationID: String, deviceID: String, credentials: [V2Credential]) {
            self.handlerURL = handlerURL
            self.applicationID = applicationID
            self.deviceID = deviceID
            self.credentials = credentials
        }

        var url: String {
            V2Reader.trimmed(handlerURL) + "/applications/" + V2Reader.escape(applicationID) + "/devices/" + V2Reader.escape(deviceID)
        }

        var entity: String { "device \(deviceID) of application \(applicationID)" }
    }

    private let transport: V2Transport
    private let pacer: RequestPacer

    public init(http: HTTPClient, retry: RetryPolicy = RetryPolicy(), requestsPerSecond: Double = 5, logger: Logger = Logger(label: "ttn-migrate.v2")) {
        transport = V2Transport(http: http, retry: retry, logger: logger)
        pacer = RequestPacer(perSecond: requestsPerSecond)
    }

    /// GETs the device (the only v2 answer that carries its frame counters).
    public func read(_ address: Address) async throws -> V2DeviceRead {
        let response = try await withCredentials(address) { credential, paceKeys in
            try await transport.send(
                HTTPRequest(method: "GET", url: address.url, headers: [credential.header]), entity: address.entity, pacer: pacer, paceKeys: paceKeys)
        }
        do {
            return V2DeviceRead(device: try JSONDecoder().decode(V2Device.self, from: response.body), json: response.body)
        } catch {
            throw V2ClientError.malformedResponse(entity: address.entity, url: HTTPClient.displayURL(address.url), reason: String(describing: error))
        }
    }

    /// Sends SetDevice with the device as read and its AppKey, DevAddr, NwkSKey and AppSKey cleared.
    public func clearKeys(_ address: Address, read: V2DeviceRead) async throws {
        let body = try Self.clearingBody(read, entity: address.entity, url: address.url)
        _ = try await withCredentials(address) { credential, paceKeys in
            try await transport.send(
                HTTPRequest(method: "PUT", url: address.url, headers: [credential.header, ("Content-Type", "application/json")], body: body),
                entity: "SetDevice of " + address.entity, pacer: pacer, paceKeys: paceKeys)
        }
    }

    /// The SetDevice body: the JSON read, with the four key fields `""` and `last_seen` left out (the
    /// handler keeps its own).
    static func clearingBody(_ read: V2DeviceRead, entity: String, url: String) throws -> Data {
        guard var device = try? JSONSerialization.jsonObject(with: read.json) as? [String: Any] else {
            throw V2ClientError.malformedResponse(entity: entity, url: HTTPClient.displayURL(url), reason: "the device is not a JSON object")
        }
        var lorawan = device["lorawan_device"] as? [String: Any] ?? [:]
        for field in ["app_key", "dev_addr", "nwk_s_key", "app_s_key"] { lorawan[field] = "" }
        lorawan["last_seen"] = nil
        device["lorawan_device"] = lorawan
        return try JSONSerialization.data(withJSONObject: device, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    /// Runs `body` with each credential until one is not refused (401/403).
    private func withCredentials<T>(_ address: Address, _ body: (V2Credential, [String]) async throws -> T) async throws -> T {
        var lastRefusal: Error?
        for credential in address.credentials {
            do {
                let paceKeys = ["client:" + V2Reader.clientKey(credential, application: address.applicationID), "app:" + address.applicationID]
                return try await body(credential, paceKeys)
            } catch let error as V2ClientError {
                switch error {
                case .unauthorized, .forbidden: lastRefusal = error
                default: throw error
                }
            }
        }
        throw lastRefusal ?? V2ClientError.unauthorized(entity: address.entity, url: HTTPClient.displayURL(address.url), message: "no credential")
    }
}
