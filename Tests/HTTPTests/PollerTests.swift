import CCurl
import Foundation
import Testing

/// The HTTP loop's poller (`Sources/CCurl/shim.h`): an idle connection stays in the epoll set, and a
/// closed one leaves no state behind for the next descriptor given its number.
@Suite struct PollerTests {
    /// A TCP socket opened as libcurl opens a connection's, through the poller.
    private func openOwnedSocket(_ poller: UnsafeMutablePointer<ttnm_poller>) -> Int32 {
        var address = curl_sockaddr()
        address.family = AF_INET
        address.socktype = Int32(SOCK_STREAM.rawValue)
        address.protocol = 0
        return ttnm_open_socket(poller, CURLSOCKTYPE_IPCXN, &address)
    }

    /// Ready descriptors within `milliseconds`.
    private func ready(_ poller: UnsafeMutablePointer<ttnm_poller>, within milliseconds: Int32) -> [Int32] {
        var fds = [Int32](repeating: -1, count: 8)
        var masks = [Int32](repeating: 0, count: 8)
        let count = ttnm_poller_wait(poller, &fds, &masks, 8, milliseconds)
        return Array(fds.prefix(Int(max(0, count))))
    }

    @Test func aClosedConnectionsNumberIsWatchedAfreshWhenReused() throws {
        let poller = try #require(ttnm_poller_create())
        defer { ttnm_poller_destroy(poller) }
        let owned = openOwnedSocket(poller)
        try #require(owned >= 0)
        // Watched for reading, then idle: kept in the set without a system call.
        #expect(ttnm_poller_watch(poller, owned, 1, 0) == 0)
        #expect(ttnm_poller_watch(poller, owned, 0, 0) == 0)
        // libcurl closes it (`ttnm_close_socket`: forget, then close), and a descriptor it did not open (a
        // resolver's socket pair, say) gets the same number: `dup2` puts it there at once, so no other
        // thread of the test process can take the number in between.
        ttnm_poller_forget(poller, owned)
        var pair: [Int32] = [-1, -1]
        try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        defer { close(pair[1]) }
        let reused = owned
        try #require(dup2(pair[0], reused) == reused)
        close(pair[0])
        defer { close(reused) }
        let other = pair[1]
        #expect(ttnm_poller_watch(poller, reused, 1, 0) == 0)
        #expect(write(other, "x", 1) == 1)
        #expect(ready(poller, within: 1000) == [reused], "the new descriptor is in the set")
    }

    @Test func anIdleConnectionIsLeftOutOnceItHasAnEvent() throws {
        let poller = try #require(ttnm_poller_create())
        defer { ttnm_poller_destroy(poller) }
        var pair: [Int32] = [-1, -1]
        try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        defer { close(pair[0]); close(pair[1]) }
        // Not opened through the poller: removing it takes it out of the set at once.
        #expect(ttnm_poller_watch(poller, pair[0], 1, 0) == 0)
        #expect(ttnm_poller_watch(poller, pair[0], 0, 0) == 0)
        #expect(write(pair[1], "x", 1) == 1)
        #expect(ready(poller, within: 50).isEmpty)

        // Opened through the poller: idle in the set, and an event there (the server closed it) is not
        // reported but takes it out, so it does not wake the loop again.
        let owned = openOwnedSocket(poller)
        try #require(owned >= 0)
        defer { _ = ttnm_close_socket(poller, owned) }
        var listener = sockaddr_in()
        listener.sin_family = sa_family_t(AF_INET)
        listener.sin_addr.s_addr = inet_addr("127.0.0.1")
        let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(server) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &listener) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                try #require(bind(server, address, length) == 0 && listen(server, 1) == 0)
                try #require(getsockname(server, address, &length) == 0)
                try #require(connect(owned, address, length) == 0)
            }
        }
        let accepted = accept(server, nil, nil)
        try #require(accepted >= 0)
        #expect(ttnm_poller_watch(poller, owned, 1, 0) == 0)
        #expect(ttnm_poller_watch(poller, owned, 0, 0) == 0)
        close(accepted)
        #expect(ready(poller, within: 50).isEmpty, "an idle connection's event is not reported")
        #expect(ready(poller, within: 50).isEmpty, "nor does it come back")
        // Watched again: it is back in the set and its end of stream is reported.
        #expect(ttnm_poller_watch(poller, owned, 1, 0) == 0)
        #expect(ready(poller, within: 1000) == [owned])
    }
}
