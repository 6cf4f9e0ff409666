import Foundation
import Journal

/// The journal as the executor's `StepLedger`: state changes group-committed, API key secrets durable
/// in the same transaction as their step's done-mark (DESIGN.md §6).
public struct JournalLedger: StepLedger {
    let store: JournalStore
    let apiKeys: [String: APIKeyInfo]

    /// `steps` tell which steps create API keys and what to store beside their secrets.
    public init(store: JournalStore, steps: [ExecutionStep]) {
        self.store = store
        var keys: [String: APIKeyInfo] = [:]
        for step in steps { if let info = step.apiKey { keys[step.id] = info } }
        self.apiKeys = keys
    }

    public func entries() async throws -> [String: LedgerEntry] {
        try await store.stepProgress().mapValues { progress in
            LedgerEntry(state: Self.state(progress.state), attempts: progress.attempts, hasSecret: progress.hasAPIKeySecret)
        }
    }

    public func markInFlight(_ stepID: String) async throws {
        _ = try await store.markInFlight(step: stepID)
    }

    public func markDone(_ stepID: String, result: OperationResult) async throws {
        if let secret = result.apiKeySecret, let info = apiKeys[stepID] {
            let key = CreatedAPIKey(
                entityType: info.entityType, entityID: info.entityID, keyID: result.apiKeyID ?? "", keyName: info.name, secret: secret,
                rights: info.rights, replacesV2KeyName: info.replacesV2KeyName)
            try await store.markDone(step: stepID, result: result.apiKeyID.map { ["api_key_id": $0] } ?? [:], apiKey: key)
        } else {
            try await store.markDone(step: stepID)
        }
    }

    public func markFailed(_ stepID: String, error: String, correlationID: String?) async throws {
        try await store.markFailed(step: stepID, error: error, correlationID: correlationID)
    }

    public func markRolledBack(_ stepID: String) async throws {
        try await store.markRolledBack(step: stepID)
    }

    public func flush() async throws {
        try await store.flush()
    }

    static func state(_ state: StepState) -> LedgerEntry.State {
        switch state {
        case .pending: return .pending
        case .inFlight: return .inFlight
        case .done: return .done
        case .failed: return .failed
        case .skipped: return .skipped
        case .rolledBack: return .rolledBack
        }
    }
}
