import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a raw HTTP/1.1 exchange produced, down to how the connection ended.
enum RawHTTPResult: Equatable {
    /// A complete response.
    case response(status: Int, headers: [String: String], body: Data)
    /// The server closed the connection before sending a single byte.
    case closedWithoutResponse
    /// The server sent a status line and headers, then closed before the whole body arrived.
    case incomplete(status: Int, received: Int, expected: Int)
    /// Nothing (more) arrived within the read timeout.
    case timedOut

    var status: Int? {
        switch self {
        case .response(let status, _, _), .incomplete(let status, _, _): return status
        case .closedWithoutResponse, .timedOut: return nil
        }
    }

    var body: Data? {
        if case .response(_, _, let body) = self { return body }
        return nil
    }

    var headers: [String: String] {
        if case .response(_, let headers, _) = self { return headers }
        return [:]
    }

    /// The body as a JSON object or array.
    var json: Any? { body.flatMap { try? JSONSerialization.jsonObject(with: $0) } }
}

struct RawHTTPError: Error, CustomStringConvertible {
    let description: String
}

/// A blocking HTTP/1.1 client over one kept-alive TCP connection to 127.0.0.1, for tests that need
/// to see exactly how a response ended (complete, cut short, never sent). Blocking calls run on a
/// thread of their own, never on Swift's cooperative pool.
final class RawHTTPConnection: @unchecked Sendable {
    private let descriptor: Int32
    private var buffer = Data()

    /// Connects to 127.0.0.1:`port`; reads give up after `readTimeout`.
    init(port: Int, readTimeout: Duration = .seconds(10)) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw RawHTTPError(description: "socket() failed: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(descriptor)
            throw RawHTTPError(description: "connect() to port \(port) failed: errno \(errno)")
        }
        let (seconds, attoseconds) = readTimeout.components
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(descriptor) }

    /// Sends one request and reads its response (blocking).
    func exchange(
        _ method: String, _ target: String, headers: [String: String] = [:], body: Data = Data()
    ) throws -> RawHTTPResult {
        var head = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(body.count)\r\n"
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        var request = Data(head.utf8)
        request.append(body)
        try send(request)
        return try readResponse()
    }

    /// Sends bytes as they are (blocking).
    func send(_ bytes: Data) throws {
        try bytes.withUnsafeBytes { raw in
            var sent = 0
            while sent < raw.count {
                let result = sendBytes(descriptor, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
                if result <= 0 { throw RawHTTPError(description: "send() failed: errno \(errno)") }
                sent += result
            }
        }
    }

    /// Closes the sending side: the server reads end-of-stream after what was sent.
    func shutdownWrite() {
        shutdown(descriptor, Int32(SHUT_WR))
    }

    private enum ReadOutcome { case data, closed, timedOut }

    private func readMore() throws -> ReadOutcome {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let count = recv(descriptor, &chunk, chunk.count, 0)
        if count > 0 {
            buffer.append(contentsOf: chunk[0..<count])
            return .data
        }
        if count == 0 { return .closed }
        if errno == EAGAIN || errno == EWOULDBLOCK { return .timedOut }
        if errno == ECONNRESET { return .closed }
        throw RawHTTPError(description: "recv() failed: errno \(errno)")
    }

    /// Reads the next response (blocking).
    func readResponse() throws -> RawHTTPResult {
        let separator = Data("\r\n\r\n".utf8)
        while buffer.range(of: separator) == nil {
            switch try readMore() {
            case .data: continue
            case .closed:
                if buffer.isEmpty { return .closedWithoutResponse }
                throw RawHTTPError(description: "connection closed inside the response head")
            case .timedOut: return .timedOut
            }
        }
        let headEnd = buffer.range(of: separator)!
        let headText = String(decoding: buffer[buffer.startIndex..<headEnd.lowerBound], as: UTF8.self)
        buffer = Data(buffer[headEnd.upperBound...])
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
            throw RawHTTPError(description: "bad status line in \(headText)")
        }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces)
            headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let expected = Int(headers.first { $0.key.lowercased() == "content-length" }?.value ?? "0") ?? 0
        while buffer.count < expected {
            switch try readMore() {
            case .data: continue
            case .closed: return .incomplete(status: status, received: buffer.count, expected: expected)
            case .timedOut: return .timedOut
            }
        }
        let body = Data(buffer.prefix(expected))
        buffer = Data(buffer.dropFirst(expected))
        return .response(status: status, headers: headers, body: body)
    }
}

/// Runs blocking work on a new thread and awaits its result, keeping the cooperative pool free.
func onThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            do { continuation.resume(returning: try work()) } catch { continuation.resume(throwing: error) }
        }
        thread.start()
    }
}

/// One request on a fresh connection.
func rawRequest(
    port: Int, _ method: String, _ target: String, headers: [String: String] = [:], body: Data = Data(),
    readTimeout: Duration = .seconds(10)
) async throws -> RawHTTPResult {
    try await onThread {
        let connection = try RawHTTPConnection(port: port, readTimeout: readTimeout)
        return try connection.exchange(method, target, headers: headers, body: body)
    }
}

/// `send(2)` outside the connection class, whose `send(_:)` would shadow it.
private func sendBytes(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int, _ flags: Int32) -> Int {
    send(descriptor, bytes, count, flags)
}
