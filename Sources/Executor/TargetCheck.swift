import Foundation
import HTTP
import Mapping
import Plan
import V3Client
import V3Model

/// What reading v3 says about a plan before anything is written (`plan --check-target`, and the first
/// thing `run` does: DESIGN.md §1).
public struct TargetCheckReport: Sendable {
    /// A step that is known to be impossible: `run` marks it skipped with this reason.
    public struct Skip: Sendable, Hashable {
        public var stepID: String
        public var reason: String
    }

    /// The key's owner as `auth_info` names it.
    public var keyOwner: String?
    /// Rights the plan needs that the key lacks (the key must hold every right it grants).
    public var missingRights: [String]
    /// Problems that stop the whole migration (missing owner account, missing rights).
    public var blockers: [String]
    /// Steps that cannot succeed (collaborators without a v3 account, entities taken by others): `run`
    /// skips them and still exits 0 when nothing depends on them.
    public var skips: [Skip]
    /// Steps that depend, directly or not, on a skipped step: `run` leaves them waiting and exits 1.
    public var waitingOnSkips: [String] = []
    /// Entities already in v3 exactly as this migration would create them (a resumed or repeated run).
    public var alreadyPresent: [String]
    /// Reads made.
    public var requests: Int

    /// Lines for humans: blockers, skips, already present.
    public var lines: [String] {
        var lines: [String] = []
        lines.append("v3 API key of \(keyOwner ?? "an unknown owner")")
        for blocker in blockers { lines.append("BLOCKER: \(blocker)") }
        for skip in skips { lines.append("will be skipped: \(skip.stepID): \(skip.reason)") }
        for step in waitingOnSkips { lines.append("will fail: \(step): waits on a skipped step") }
        if !alreadyPresent.isEmpty { lines.append("already in v3 as this migration would create them: \(alreadyPresent.count)") }
        if blockers.isEmpty && skips.isEmpty { lines.append("no collision or missing right found") }
        return lines
    }

    /// Whether `run` would fail (exit 1): a blocker, or a step waiting on a skipped one. Skipped steps
    /// alone do not fail a run, so the check agrees with it.
    public var runWouldFail: Bool { !blockers.isEmpty || !waitingOnSkips.isEmpty }

    /// The steps that depend on a skipped step, transitively, sorted.
    static func waiting(on skips: [Skip], in plan: MigrationPlan) -> [String] {
        var stopped = Set(skips.map(\.stepID))
        var waiting: [String] = []
        var changed = true
        while changed {
            changed = false
            for step in plan.steps where !stopped.contains(step.id) && step.dependsOn.contains(where: stopped.contains) {
                stopped.insert(step.id)
                waiting.append(step.id)
                changed = true
            }
        }
        return waiting.sorted()
    }
}

/// What one read of the target check found.
private enum CheckRead: Sendable {
    case owner(exists: Bool)
    case account(V3AccountIdentifiers, stepIDs: [String], exists: Bool)
    case create(stepID: String, Reconciliation)
}

/// Reads v3 to find what would collide or fail, writing nothing.
public enum TargetCheck {
    /// Checks the key (`auth_info`), its rights, the owner and collaborator accounts, and whether each
    /// application and gateway ID is free, already ours, or taken. Create steps in `journaledDone` are
    /// not read: the journal proves this migration made them, and a resumed run does not send them again.
    public static func run(
        plan: MigrationPlan, client: V3Client, concurrency: Int = 8, retry: RetryPolicy = RetryPolicy(), journaledDone: Set<String> = []
    ) async throws -> TargetCheckReport {
        var report = TargetCheckReport(keyOwner: nil, missingRights: [], blockers: [], skips: [], alreadyPresent: [], requests: 1)
        let info = try await retryingRead(policy: retry) { try await client.authInfo() }
        if let user = info.apiKey?.entityIDs?.userIDs?.userID {
            report.keyOwner = "user \(user)"
        } else if let organization = info.apiKey?.entityIDs?.organizationIDs?.organizationID {
            report.keyOwner = "organization \(organization)"
        }
        let held = Set(info.rights)
        let isAdmin = info.isAdmin ?? false
        let required = requiredRights(plan)
        report.missingRights = isAdmin ? [] : required.subtracting(held).sorted()
        if !report.missingRights.isEmpty {
            report.blockers.append(
                "the v3 API key lacks rights the migration needs or grants: \(report.missingRights.joined(separator: ", ")); create a key of \(plan.owner) with these rights (or RIGHT_ALL)")
        }

        // Accounts: the owner and every collaborator must exist (v3 cannot create them).
        var accounts: [V3AccountIdentifiers: [String]] = [:]
        for step in plan.steps {
            switch step.payload {
            case .applicationCollaborator(_, let collaborator), .gatewayCollaborator(_, let collaborator):
                accounts[collaborator.ids, default: []].append(step.id)
            default: break
            }
        }
        // Every read below is independent of the others: one wave of at most `concurrency` in flight, so the
        // check costs about one round trip after auth_info, not one per account (issue 12).
        let creates = try plan.steps
            .filter { ($0.kind == .applicationCreate || $0.kind == .gatewayCreate) && !journaledDone.contains($0.id) }
            .map { try PlanExecution.step(for: $0, owner: plan.owner) }
        var reads: [@Sendable () async throws -> CheckRead] = []
        let owner = plan.owner
        reads.append { .owner(exists: try await retryingRead(policy: retry) { try await accountExists(owner, client: client) }) }
        for (account, stepIDs) in accounts.sorted(by: { $0.key < $1.key }) where account != plan.owner {
            reads.append { .account(account, stepIDs: stepIDs, exists: try await retryingRead(policy: retry) { try await accountExists(account, client: client) }) }
        }
        for step in creates {
            reads.append { .create(stepID: step.id, try await retryingRead(policy: retry) { try await step.operation.reconcile(with: client, hasStoredSecret: false) }) }
        }
        try await withThrowingTaskGroup(of: CheckRead.self) { group in
            var pending = reads[...]
            func addNext() {
                guard let read = pending.popFirst() else { return }
                group.addTask { try await read() }
            }
            for _ in 0..<max(1, concurrency) { addNext() }
            while let result = try await group.next() {
                report.requests += 1
                switch result {
                case .owner(let exists) where !exists:
                    report.blockers.append("the owner \(plan.owner) has no v3 account; set `target.owner` to an existing user or organization")
                case .owner: break
                case .account(let account, let stepIDs, let exists) where !exists:
                    for id in stepIDs {
                        report.skips.append(.init(stepID: id, reason: "\(account) has no v3 account: map the v2 username with `users:` or create the account first"))
                    }
                case .account: break
                case .create(let id, .done): report.alreadyPresent.append(id)
                case .create(_, .absent): break
                case .create(let id, .conflict(let reason)): report.skips.append(.init(stepID: id, reason: reason))
                }
                addNext()
            }
        }
        report.skips.sort { $0.stepID < $1.stepID }
        report.waitingOnSkips = TargetCheckReport.waiting(on: report.skips, in: plan)
        report.alreadyPresent.sort()
        return report
    }

    /// Every right granted to collaborators and keys, plus the rights to create under the owner.
    static func requiredRights(_ plan: MigrationPlan) -> Set<String> {
        var rights = Set<String>()
        var createsApplications = false
        var createsGateways = false
        for step in plan.steps {
            switch step.payload {
            case .applicationCollaborator(_, let collaborator), .gatewayCollaborator(_, let collaborator):
                rights.formUnion(collaborator.rights.map(\.rawValue))
            case .applicationAPIKey(_, let key):
                rights.formUnion(key.rights.map(\.rawValue))
                rights.insert("RIGHT_APPLICATION_SETTINGS_API_KEYS")
            case .gatewayAPIKey(_, let key):
                rights.formUnion(key.rights.map(\.rawValue))
                rights.insert("RIGHT_GATEWAY_SETTINGS_API_KEYS")
            case .application: createsApplications = true
            case .gateway: createsGateways = true
            case .deviceIS: rights.insert("RIGHT_APPLICATION_DEVICES_WRITE")
            case .deviceJS, .deviceNS, .deviceAS: rights.insert("RIGHT_APPLICATION_DEVICES_WRITE_KEYS")
            case .applicationLink: rights.insert("RIGHT_APPLICATION_LINK")
            }
        }
        let organization = plan.owner.kindName == "organization"
        if createsApplications { rights.insert(organization ? "RIGHT_ORGANIZATION_APPLICATIONS_CREATE" : "RIGHT_USER_APPLICATIONS_CREATE") }
        if createsGateways { rights.insert(organization ? "RIGHT_ORGANIZATION_GATEWAYS_CREATE" : "RIGHT_USER_GATEWAYS_CREATE") }
        return rights
    }

    /// `GET /users/{id}` or `/organizations/{id}`: public fields of any account; absent → 404/403.
    static func accountExists(_ account: V3AccountIdentifiers, client: V3Client) async throws -> Bool {
        let path = account.kindName == "user" ? "/users/\(PlanExecution.escape(account.id))" : "/organizations/\(PlanExecution.escape(account.id))"
        do {
            _ = try await client.identityServer.send("GET", path, operation: "check that \(account) exists")
            return true
        } catch let error as V3APIError where error.isAbsentOrNotOurs {
            return false
        }
    }
}
