import Foundation
import HTTP

/// A failure talking to the v2 account server or a handler. Each names the entity and the next step.
public enum V2ClientError: Error, CustomStringConvertible, Sendable {
    /// 401: the token or key was refused.
    case unauthorized(entity: String, url: String, message: String)
    /// 403: the credential lacks a right.
    case forbidden(entity: String, url: String, message: String)
    /// 404: the entity does not exist there.
    case notFound(entity: String, url: String)
    /// Any other error status (after retries for 429/5xx).
    case server(entity: String, url: String, status: Int, message: String)
    /// The answer was not the JSON the API documents.
    case malformedResponse(entity: String, url: String, reason: String)
    /// No response after retries.
    case transport(entity: String, error: HTTPError, attempts: Int)

    public var description: String {
        switch self {
        case .unauthorized(let entity, let url, let message):
            return "v2 refused the credential reading \(entity) (\(url): 401 \(message)). Get a new v2 access token (ttnctl user login / account.thethingsnetwork.org) and set it in the variable or file named by `source.token_env`/`token_file`."
        case .forbidden(let entity, let url, let message):
            return "v2 denied reading \(entity) (\(url): 403 \(message)). Use the token of a user with rights on it, or exclude it with `include:`."
        case .notFound(let entity, let url):
            return "v2 does not know \(entity) (\(url): 404). Check the ID and the configured server."
        case .server(let entity, let url, let status, let message):
            return "v2 answered \(status) reading \(entity) (\(url)): \(message). Try again later; if it persists, check the server."
        case .malformedResponse(let entity, let url, let reason):
            return "v2 sent invalid data for \(entity) (\(url)): \(reason). The data must be fixed in v2 (or the entity excluded with `include:`) before it can be migrated."
        case .transport(let entity, let error, let attempts):
            return "reading \(entity) failed after \(attempts) attempt\(attempts == 1 ? "" : "s"): \(error)"
        }
    }
}
