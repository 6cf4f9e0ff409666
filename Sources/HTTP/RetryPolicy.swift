import Foundation

/// Exponential backoff with full jitter for transient failures (429, 5xx, dropped connections).
///
/// DESIGN.md §7: retry 429, 5xx, connection errors and timeouts; never other 4xx.
public struct RetryPolicy: Sendable {
    /// Attempts in total, the first included.
    public var maxAttempts: Int
    /// Delay before the first retry; doubled each time up to `maxDelay`.
    public var baseDelay: Duration
    public var maxDelay: Duration

    public init(maxAttempts: Int = 6, baseDelay: Duration = .milliseconds(250), maxDelay: Duration = .seconds(20)) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// Whether an HTTP status is worth retrying.
    public static func isRetryable(status: Int) -> Bool {
        status == 429 || (500...599).contains(status) && status != 501
    }

    /// The delay before retry number `retry` (1 = first retry): random in [d/2, d] where d doubles.
    public func delay(beforeRetry retry: Int) -> Duration {
        let exponent = min(max(retry - 1, 0), 20)
        let nominal = min(baseDelay * (1 << exponent), maxDelay)
        let factor = Double.random(in: 0.5...1.0)
        return nominal * factor
    }
}
