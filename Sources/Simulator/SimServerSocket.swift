import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Socket options FlyingFox gives no hook for, applied to its listening socket from outside.
///
/// FlyingFox 0.27.1 writes a response's header and body in two `write()` calls without
/// TCP_NODELAY, so on a kept-alive connection the body waits for the client's delayed ACK: ~44 ms
/// per request (`reference/swift-notes.md`, FlyingFox section). Linux passes TCP_NODELAY from a
/// listening socket to the sockets it accepts, so setting it once on the listener removes the stall.
/// The listener is found by matching `getsockname` of the process's descriptors to the address the
/// server reports, and `SO_ACCEPTCONN` tells it apart from accepted connections on the same address.
enum SimServerSocket {
    /// Sets TCP_NODELAY on the listening TCP socket bound to 127.0.0.1:`port` and checks it took.
    /// Returns the descriptor it changed.
    static func setNoDelayOnListener(port: UInt16) throws(SimServerError) -> Int32 {
        for descriptor in candidateDescriptors() where isLoopbackListener(descriptor, port: port) {
            var one: Int32 = 1
            let size = socklen_t(MemoryLayout<Int32>.size)
            guard setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, size) == 0 else {
                throw .socketOption(detail: "setsockopt(TCP_NODELAY) failed with errno \(errno)")
            }
            var value: Int32 = 0
            var length = size
            guard getsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &value, &length) == 0, value != 0 else {
                throw .socketOption(detail: "TCP_NODELAY did not stay set on the listening socket")
            }
            return descriptor
        }
        throw .socketOption(detail: "no listening socket bound to 127.0.0.1:\(port) was found among the process's descriptors")
    }

    /// Whether TCP_NODELAY is set on `descriptor` (for checks and tests).
    static func noDelay(on descriptor: Int32) -> Bool {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &value, &length) == 0 && value != 0
    }

    /// Open descriptors of this process: `/proc/self/fd` on Linux, else every number below the table size.
    private static func candidateDescriptors() -> [Int32] {
        if let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            return names.compactMap { Int32($0) }.sorted()
        }
        return Array(0..<Int32(min(getdtablesize(), 65_536)))
    }

    private static func isLoopbackListener(_ descriptor: Int32, port: UInt16) -> Bool {
        var status = stat()
        guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFSOCK else { return false }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard named == 0, Int32(storage.ss_family) == AF_INET else { return false }
        let address = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee }
        }
        guard UInt16(bigEndian: address.sin_port) == port,
              UInt32(bigEndian: address.sin_addr.s_addr) == 0x7F00_0001 else { return false }
        var accepting: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(descriptor, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &size) == 0 else { return false }
        return accepting != 0
    }
}
