import Foundation
import HTTP
import V3Client

/// Retries an idempotent v3 read on 429, 5xx, dropped connections and timeouts (DESIGN.md §7).
public func retryingRead<T: Sendable>(policy: RetryPolicy, _ read: @Sendable () async throws -> T) async throws -> T {
    var attempt = 0
    while true {
        attempt += 1
        do {
            return try await read()
        } catch let error as V3APIError where error.isTransient && attempt < policy.maxAttempts {
            let wait = error.status == 429 ? max(Duration.seconds(max(error.rateLimit.retry ?? 1, 1)), policy.delay(beforeRetry: attempt)) : policy.delay(beforeRetry: attempt)
            try await Task.sleep(for: wait)
        } catch let error as HTTPError where error.isTransient && attempt < policy.maxAttempts {
            try await Task.sleep(for: policy.delay(beforeRetry: attempt))
        }
    }
}
