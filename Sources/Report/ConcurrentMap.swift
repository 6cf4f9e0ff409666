import Dispatch

/// Pure work over many items spread over every core (the comparison of 100,000 devices is CPU-bound).
enum ConcurrentMap {
    /// `transform` of every item, in the items' order, computed in chunks on all cores.
    static func map<T: Sendable, R: Sendable>(_ items: [T], chunk: Int = 512, _ transform: @Sendable (T) -> R) -> [R] {
        guard items.count > chunk else { return items.map(transform) }
        let chunks = (items.count + chunk - 1) / chunk
        var pieces = [[R]](repeating: [], count: chunks)
        pieces.withUnsafeMutableBufferPointer { buffer in
            // Each chunk writes only its own slot.
            let slots = Slots(base: buffer.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: chunks) { index in
                slots.base[index] = items[index * chunk..<min(items.count, (index + 1) * chunk)].map(transform)
            }
        }
        return pieces.flatMap { $0 }
    }

    private struct Slots<R>: @unchecked Sendable {
        let base: UnsafeMutablePointer<[R]>
    }
}
