import Foundation

/// An error the simulated v3 stack answers, in the shape of reference/v3-api.md §9.
///
/// TTN errors carry `ErrorDetails` (namespace, name, message format, public attributes, correlation ID, cause);
/// routing and body-decoding errors (grpc-gateway's own) carry only `code` and `message`.
struct V3Failure: Error, Sendable {
    /// gRPC status code.
    var code: Int
    var namespace: String
    var name: String
    var messageFormat: String
    var attributes: [String: V3JSON]
    /// At most one element: the nested cause (an array keeps the struct non-recursive).
    var causes: [V3Failure]
    /// Set for grpc-gateway errors without details: the whole `message`.
    var plainMessage: String?

    init(code: Int, namespace: String, name: String, format: String, attributes: [String: V3JSON] = [:], cause: V3Failure? = nil) {
        self.code = code
        self.namespace = namespace
        self.name = name
        self.messageFormat = format
        self.attributes = attributes
        self.causes = cause.map { [$0] } ?? []
        self.plainMessage = nil
    }

    private init(plainCode: Int, message: String) {
        code = plainCode
        namespace = ""
        name = ""
        messageFormat = ""
        attributes = [:]
        causes = []
        plainMessage = message
    }

    /// HTTP status for the gRPC code (grpc-gateway `HTTPStatusFromCode`, §9).
    var httpStatus: Int {
        switch code {
        case 0: return 200
        case 1: return 499
        case 2: return 500
        case 3: return 400
        case 4: return 504
        case 5: return 404
        case 6: return 409
        case 7: return 403
        case 8: return 429
        case 9: return 400
        case 10: return 409
        case 11: return 400
        case 12: return 501
        case 13: return 500
        case 14: return 503
        case 15: return 500
        case 16: return 401
        default: return 500
        }
    }

    /// The message format with `{attribute}` placeholders filled in (pkg/errors).
    var formattedMessage: String {
        var result = ""
        var rest = Substring(messageFormat)
        while let open = rest.firstIndex(of: "{") {
            result += rest[..<open]
            let afterOpen = rest.index(after: open)
            guard let close = rest[afterOpen...].firstIndex(of: "}") else {
                result += rest[open...]
                rest = ""
                break
            }
            let key = String(rest[afterOpen..<close])
            result += attributes[key].map(V3Failure.text) ?? "{\(key)}"
            rest = rest[rest.index(after: close)...]
        }
        result += rest
        return result
    }

    private static func text(_ value: V3JSON) -> String {
        switch value {
        case .string(let text): return text
        case .number(let number): return V3JSON.format(number)
        case .bool(let flag): return flag ? "true" : "false"
        case .null: return ""
        case .array(let items): return items.map(text).joined(separator: ", ")
        case .object: return String(decoding: value.serialized(), as: UTF8.self)
        }
    }

    /// `error:<namespace>:<name> (<formatted message>)` (pkg/errors/errors.go `String`).
    var message: String {
        plainMessage ?? "error:\(namespace):\(name) (\(formattedMessage))"
    }

    func details(correlationID: String?) -> V3JSON {
        var fields: [String: V3JSON] = [
            "namespace": .string(namespace),
            "name": .string(name),
            "message_format": .string(messageFormat),
            "code": .number(Double(code)),
        ]
        if !attributes.isEmpty { fields["attributes"] = .object(attributes) }
        if let correlationID { fields["correlation_id"] = .string(correlationID) }
        if let cause = causes.first { fields["cause"] = cause.details(correlationID: nil) }
        return .object(fields)
    }

    /// The full response body.
    func body(correlationID: String) -> V3JSON {
        var fields: [String: V3JSON] = ["code": .number(Double(code)), "message": .string(message)]
        if plainMessage == nil {
            var detail = details(correlationID: correlationID).objectValue ?? [:]
            detail["@type"] = .string("type.googleapis.com/ttn.lorawan.v3.ErrorDetails")
            fields["details"] = .array([.object(detail)])
        }
        return .object(fields)
    }

    func response(correlationID: String) -> SimResponse {
        var headers = ["Content-Type": "application/json"]
        if code == 16 { headers["WWW-Authenticate"] = message }
        return SimResponse(status: httpStatus, headers: headers, body: body(correlationID: correlationID).serialized())
    }

    // MARK: grpc-gateway errors without details (§9)

    static let notFound = V3Failure(plainCode: 5, message: "Not Found")
    static let methodNotAllowed = V3Failure(plainCode: 12, message: "Method Not Allowed")

    static func malformedBody(_ reason: String) -> V3Failure {
        V3Failure(plainCode: 3, message: reason)
    }

    static func notImplemented(_ fullMethod: String) -> V3Failure {
        V3Failure(plainCode: 12, message: "method \(fullMethod) is not implemented by the v3 simulator")
    }
}

// MARK: - The TTN errors the simulator answers (namespaces and formats from reference/v3-api.md and the LS sources it cites)

extension V3Failure {
    static func forbiddenPaths(_ paths: [String]) -> V3Failure {
        V3Failure(code: 3, namespace: "pkg/rpcmiddleware/validator", name: "field_mask_paths",
                  format: "forbidden path(s) in field mask",
                  attributes: ["forbidden_paths": .array(paths.map { .string($0) })])
    }

    static func nonZeroPath(_ path: String) -> V3Failure {
        V3Failure(code: 3, namespace: "pkg/rpcmiddleware/validator", name: "non_zero_path",
                  format: "path `{path}` is not zero", attributes: ["path": .string(path)])
    }

    /// `pkg/errors:validation`, nested one level per message like protoc-gen-validate's errors: the outermost
    /// names the request field, the innermost the failing field and its reason.
    static func validation(path: [String], reason: String) -> V3Failure {
        var failure = V3Failure(code: 3, namespace: "pkg/errors", name: "validation", format: "invalid `{field}`: {reason}",
                                attributes: ["field": .string(path.last ?? ""), "reason": .string(reason)])
        for field in path.dropLast().reversed() {
            failure = V3Failure(code: 3, namespace: "pkg/errors", name: "validation", format: "invalid `{field}`: {reason}",
                                attributes: ["field": .string(field), "reason": .string("embedded message failed validation")],
                                cause: failure)
        }
        return failure
    }

    static func forbiddenID(_ id: String) -> V3Failure {
        V3Failure(code: 3, namespace: "pkg/identityserver/blocklist", name: "forbidden_id",
                  format: "the ID `{id}` can not be registered", attributes: ["id": .string(id)])
    }

    static let idTaken = V3Failure(code: 6, namespace: "pkg/util/store", name: "id_taken",
                                   format: "ID already taken, choose a different one and try again")

    static func gatewayEUITaken(eui: String, gatewayID: String) -> V3Failure {
        V3Failure(code: 6, namespace: "pkg/identityserver", name: "gateway_eui_taken",
                  format: "a gateway with EUI `{gateway_eui}` is already registered (by you or someone else) as `{gateway_id}`",
                  attributes: ["gateway_eui": .string(eui), "gateway_id": .string(gatewayID)])
    }

    static func endDeviceEUIsTaken(namespace: String, joinEUI: String, devEUI: String, deviceID: String, applicationID: String) -> V3Failure {
        V3Failure(code: 6, namespace: namespace, name: "end_device_euis_taken",
                  format: "an end device with JoinEUI `{join_eui}` and DevEUI `{dev_eui}` is already registered as `{device_id}` in application `{application_id}`",
                  attributes: ["join_eui": .string(joinEUI), "dev_eui": .string(devEUI),
                               "device_id": .string(deviceID), "application_id": .string(applicationID)])
    }

    static func applicationHasDevices(_ count: Int) -> V3Failure {
        V3Failure(code: 9, namespace: "pkg/identityserver", name: "application_has_devices",
                  format: "application still has `{count}` devices", attributes: ["count": .number(Double(count))])
    }

    static func needsCollaborator(_ entity: V3EntityKind) -> V3Failure {
        V3Failure(code: 9, namespace: "pkg/identityserver", name: "\(entity.rawValue)_needs_collaborator",
                  format: "every \(entity.rawValue) needs at least one collaborator with all rights")
    }

    static func accountNotFound(_ account: V3AccountRef) -> V3Failure {
        V3Failure(code: 5, namespace: "pkg/identityserver/store", name: "account_not_found",
                  format: "{account_type} account with id `{account_id}` not found",
                  attributes: ["account_type": .string(account.kind.rawValue), "account_id": .string(account.id)])
    }

    static func membershipNotFound(_ account: V3AccountRef, entity: V3EntityKind, entityID: String) -> V3Failure {
        V3Failure(code: 5, namespace: "pkg/identityserver/store", name: "membership_not_found",
                  format: "membership of {account_type} account with id `{account_id}` on {entity_type} entity with id `{entity_id}` not found",
                  attributes: ["account_type": .string(account.kind.rawValue), "account_id": .string(account.id),
                               "entity_type": .string(entity.rawValue), "entity_id": .string(entityID)])
    }

    static func apiKeyNotFoundInStore(_ keyID: String, entity: V3EntityKind, entityID: String) -> V3Failure {
        V3Failure(code: 5, namespace: "pkg/identityserver/store", name: "api_key_not_found",
                  format: "api key with id `{api_key_id}` not found",
                  attributes: ["api_key_id": .string(keyID), "entity_type": .string(entity.rawValue), "entity_id": .string(entityID)])
    }

    static func endDeviceNotFound(applicationID: String, deviceID: String) -> V3Failure {
        V3Failure(code: 5, namespace: "pkg/identityserver/store", name: "end_device_not_found",
                  format: "end device with id `{device_id}` not found in application with id `{application_id}`",
                  attributes: ["device_id": .string(deviceID), "application_id": .string(applicationID)])
    }

    static func userNotFound(_ id: String) -> V3Failure {
        V3Failure(code: 5, namespace: "pkg/identityserver/store", name: "user_not_found",
                  format: "user with id `{user_id}` not found", attributes: ["user_id": .string(id)])
    }

    static func organizationNotFound(_ id: String) -> V3Failure {
        V3Failure(code: 5, namespace: "pkg/identityserver/store", name: "organization_not_found",
                  format: "organization with id `{organization_id}` not found", attributes: ["organization_id": .string(id)])
    }

    /// `pkg/auth/rights:no_<entity>_rights`: also what a non-admin gets for an entity that does not exist (§15).
    static func noRights(_ entity: V3EntityKind, uid: String) -> V3Failure {
        V3Failure(code: 7, namespace: "pkg/auth/rights", name: "no_\(entity.rawValue)_rights",
                  format: "no rights for \(entity.rawValue) `{uid}`", attributes: ["uid": .string(uid)])
    }

    static func insufficientRights(_ entity: V3EntityKind, uid: String, missing: [String]) -> V3Failure {
        V3Failure(code: 7, namespace: "pkg/auth/rights", name: "insufficient_\(entity.rawValue)_rights",
                  format: "insufficient rights for \(entity.rawValue) `{uid}`",
                  attributes: ["uid": .string(uid), "missing": .array(missing.map { .string($0) })])
    }

    static let unauthenticated = V3Failure(code: 16, namespace: "pkg/identityserver", name: "unauthenticated", format: "unauthenticated")
    static let unsupportedAuthorization = V3Failure(code: 16, namespace: "pkg/identityserver", name: "unsupported_authorization",
                                                    format: "Unsupported authorization method")
    static let apiKeyNotFound = V3Failure(code: 16, namespace: "pkg/identityserver", name: "api_key_not_found", format: "API key not found")
    static let invalidAuthorization = V3Failure(code: 16, namespace: "pkg/identityserver", name: "invalid_authorization",
                                                format: "invalid authorization")
    static let apiKeyExpired = V3Failure(code: 16, namespace: "pkg/identityserver", name: "api_key_expired", format: "API key expired")
    static let invalidToken = V3Failure(code: 3, namespace: "pkg/auth", name: "token", format: "invalid token")

    static func adminsPurge(_ entity: V3EntityKind) -> V3Failure {
        V3Failure(code: 7, namespace: "pkg/identityserver", name: "admins_purge_\(entity.rawValue)s",
                  format: "\(entity.rawValue)s may only be purged by admins")
    }

    static let devEUIIssuingNotEnabled = V3Failure(code: 3, namespace: "pkg/identityserver", name: "dev_eui_issuing_not_enabled",
                                                   format: "DevEUI issuing not configured")

    static let noJoinEUI = V3Failure(code: 3, namespace: "pkg/joinserver", name: "no_join_eui", format: "no JoinEUI specified")
    static let noDevEUI = V3Failure(code: 3, namespace: "pkg/joinserver", name: "no_dev_eui", format: "no DevEUI specified")

    /// `<component>:field_value` "invalid value of field `{field}`" (JS/NS/AS `grpc_deviceregistry.go`).
    static func fieldValue(_ component: V3Component, field: String, cause: V3Failure? = nil) -> V3Failure {
        V3Failure(code: 3, namespace: component.namespace, name: "field_value", format: "invalid value of field `{field}`",
                  attributes: ["field": .string(field)], cause: cause)
    }

    static func fieldIsZero(_ path: String) -> V3Failure {
        V3Failure(code: 3, namespace: "pkg/networkserver", name: "field_is_zero", format: "field `{name}` is zero",
                  attributes: ["name": .string(path)])
    }

    static func fieldNotZero(_ path: String) -> V3Failure {
        V3Failure(code: 3, namespace: "pkg/networkserver", name: "field_not_zero", format: "field `{name}` is not zero",
                  attributes: ["name": .string(path)])
    }

    static func invalidFieldMask(_ component: V3Component) -> V3Failure {
        V3Failure(code: 3, namespace: component.namespace, name: "field_mask", format: "invalid field mask")
    }

    static func deviceNotFound(_ component: V3Component) -> V3Failure {
        V3Failure(code: 5, namespace: component.namespace, name: "device_not_found", format: "device not found")
    }

    static func frequencyPlanNotFound(_ id: String) -> V3Failure {
        V3Failure(code: 5, namespace: "pkg/frequencyplans", name: "not_found", format: "frequency plan `{id}` not found",
                  attributes: ["id": .string(id)])
    }

    static func rateLimitExceeded(rate: Int, key: String) -> V3Failure {
        V3Failure(code: 8, namespace: "pkg/ratelimit", name: "rate_limit_exceeded",
                  format: "rate limit of `{rate}` accesses per minute exceeded for resource `{key}`",
                  attributes: ["rate": .number(Double(rate)), "key": .string(key)])
    }

    static let databaseUnavailable = V3Failure(code: 14, namespace: "pkg/util/store", name: "database_unavailable",
                                               format: "database unavailable")
}
