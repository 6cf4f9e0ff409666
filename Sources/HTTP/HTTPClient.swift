import CCurl
import Dispatch
import Foundation
import Logging

/// An HTTP client over libcurl with connection reuse, timeouts, verified TLS and same-origin redirects.
///
/// Transfers run on libcurl's multi interface, driven by one thread of the client's own (never Swift's
/// cooperative pool): connections stay alive between requests and are shared by all of them
/// (`reference/swift-notes.md`: a new handle per request costs twice the CPU). Proxies come from the
/// environment as libcurl reads them (`http_proxy`, `https_proxy`, `no_proxy`); loopback is never proxied.
/// Header values (and so `Authorization`) are never logged.
public final class HTTPClient: Sendable {
    /// The version sent in `User-Agent`.
    public static let toolVersion = "0.1.0"

    public let configuration: HTTPClientConfiguration
    private let loop = CurlMultiLoop()
    private let logger: Logger

    private static let globalInit: Void = {
        curl_global_init(Int(CURL_GLOBAL_ALL))
    }()

    public init(configuration: HTTPClientConfiguration = HTTPClientConfiguration(), logger: Logger = Logger(label: "ttn-migrate.http")) {
        _ = Self.globalInit
        self.configuration = configuration
        self.logger = logger
    }

    deinit { loop.close() }

    /// An executor that runs jobs on this client's HTTP thread, between its transfers.
    ///
    /// Tasks that mostly send requests and act on the answers (the executor's steps) run here: an answer
    /// resumes its task on the thread that read it, and the next request is handed to libcurl without waking
    /// another thread. On two cores every such hand-over between the cooperative pool and the HTTP thread
    /// waited about 230 µs for a core (issue 12's trace: three per request at 64 in flight). Work that blocks
    /// its thread must not run here: it would hold up every transfer.
    @available(macOS 15.0, *)
    public var taskExecutor: any TaskExecutor { loop.executor }

    /// Sends a request and returns the response of any status; throws `HTTPError` when there is none.
    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        var current = request
        var redirects = 0
        while true {
            let response = try await perform(current)
            guard [301, 302, 303, 307, 308].contains(response.status), let location = response.headers["Location"] else {
                return response
            }
            guard let target = URL(string: location, relativeTo: URL(string: current.url))?.absoluteURL else {
                return response
            }
            guard Self.sameOrigin(current.url, target.absoluteString) else {
                throw HTTPError.redirectRefused(from: Self.displayURL(current.url), to: Self.displayURL(target.absoluteString))
            }
            redirects += 1
            guard redirects <= configuration.maxRedirects else {
                throw HTTPError.tooManyRedirects(url: Self.displayURL(request.url))
            }
            current.url = target.absoluteString
            if response.status != 307, response.status != 308, current.method != "GET", current.method != "HEAD" {
                current.method = "GET"
                current.body = nil
            }
        }
    }

    /// Whether two URLs share scheme, host and port.
    static func sameOrigin(_ a: String, _ b: String) -> Bool {
        guard let ua = URLComponents(string: a), let ub = URLComponents(string: b) else { return false }
        func port(_ c: URLComponents) -> Int? { c.port ?? (c.scheme?.lowercased() == "https" ? 443 : 80) }
        return ua.scheme?.lowercased() == ub.scheme?.lowercased() && ua.host?.lowercased() == ub.host?.lowercased()
            && port(ua) == port(ub)
    }

    /// The URL without user info or query, as it may be shown to users.
    public static func displayURL(_ url: String) -> String {
        guard var components = URLComponents(string: url) else { return "<invalid URL>" }
        components.user = nil
        components.password = nil
        components.query = nil
        return components.string ?? "<invalid URL>"
    }

    /// Whether `url` starts with `http://` or `https://` (any case) and a host. Read as bytes: parsing
    /// every request's URL with `URLComponents` was 1.5 % of the client's CPU at 64 in flight, and
    /// libcurl parses it anyway (a malformed rest fails there as `invalidURL`).
    static func hasHTTPSchemeAndHost(_ url: String) -> Bool {
        var bytes = url.utf8.makeIterator()
        func next(lowered: Bool = true) -> UInt8? {
            guard let byte = bytes.next() else { return nil }
            return lowered ? asciiLowercased(byte) : byte
        }
        for letter in "http".utf8 where next() != letter { return false }
        var byte = next()
        if byte == UInt8(ascii: "s") { byte = next() }
        guard byte == UInt8(ascii: ":"), next() == UInt8(ascii: "/"), next() == UInt8(ascii: "/"), let first = next(lowered: false) else {
            return false
        }
        return !"/?#@".utf8.contains(first)
    }

    private func perform(_ request: HTTPRequest) async throws -> HTTPResponse {
        guard Self.hasHTTPSchemeAndHost(request.url) else { throw HTTPError.invalidURL(Self.displayURL(request.url)) }
        let started = ContinuousClock.now
        let configuration = self.configuration
        let result: Result<HTTPResponse, HTTPError> = await withCheckedContinuation { continuation in
            loop.submit(request, configuration: configuration) { continuation.resume(returning: $0) }
        }
        let elapsed = ContinuousClock.now - started
        switch result {
        case .success(let response):
            logger.debug("\(request.method) \(Self.displayURL(request.url)) → \(response.status) in \(elapsed)")
            return response
        case .failure(let error):
            logger.debug("\(request.method) \(Self.displayURL(request.url)) failed: \(error)")
            throw error
        }
    }
}

/// libcurl's multi interface driven by one thread: every transfer in flight shares it, its connection
/// cache and its DNS cache.
///
/// Swift tasks hand requests over under a lock and wake the loop (`ttnm_poller_wake`); the loop adds
/// them and resumes each task with its response. Tasks that prefer `executor` run on the loop thread
/// itself, between its turns on the sockets: their requests and resumptions need no wake-up at all.
/// One thread for any number in flight, instead of a blocked thread per request (`reference/swift-notes.md`: 45 µs per request against 68–75 µs plus
/// 15–25 µs for the hand-over). The loop waits on the sockets libcurl names in its socket callback
/// (epoll on Linux) and hands libcurl only the ones that are ready (`curl_multi_socket_action`), so
/// a wake-up costs the same with 64 connections as with one; `curl_multi_poll` and `curl_multi_perform`
/// walked all of them each time (C = 64 client CPU 190 → 173 µs per request). Easy handles are reset
/// and reused.
private final class CurlMultiLoop: @unchecked Sendable {
    typealias Completion = @Sendable (Result<HTTPResponse, HTTPError>) -> Void

    /// One request from its hand-over to its completion.
    private final class Transfer {
        let request: HTTPRequest
        let configuration: HTTPClientConfiguration
        let completion: Completion
        let sink = TransferSink()
        var headerList: UnsafeMutablePointer<curl_slist>?
        var handle: EasyHandle?

        init(request: HTTPRequest, configuration: HTTPClientConfiguration, completion: @escaping Completion) {
            self.request = request
            self.configuration = configuration
            self.completion = completion
        }
    }

    private let multi: UnsafeMutableRawPointer
    private let lock = NSLock()
    // Guarded by `lock`.
    private var submitted: [Transfer] = []
    /// Jobs enqueued on `executor`, run by the loop thread in order.
    private var jobs: [UnownedJob] = []
    private var closing = false
    private var started = false
    /// The loop thread has ended: no job queued now would run.
    private var exited = false
    /// A wake-up was written since the loop last took `submitted`: the next submission needs none.
    private var wakePending = false
    // Owned by the loop thread.
    private var active: [UnsafeMutableRawPointer: Transfer] = [:]
    private var idleHandles: [EasyHandle] = []
    private let poller: UnsafeMutablePointer<ttnm_poller>
    /// The loop thread, once it runs: work it queues itself needs no wake-up.
    private var loopThread: pthread_t?

    /// Runs jobs on the loop thread (`HTTPClient.taskExecutor`); once that thread has ended (the client is
    /// gone), on a global queue, so a job is never dropped.
    final class LoopExecutor: TaskExecutor, @unchecked Sendable {
        weak var loop: CurlMultiLoop?

        func enqueue(_ job: consuming ExecutorJob) {
            let job = UnownedJob(job)
            if let loop, loop.enqueue(job) { return }
            let executor = asUnownedTaskExecutor()
            DispatchQueue.global().async { job.runSynchronously(on: executor) }
        }
    }

    /// The one executor of this loop: a task prefers it by identity, so jobs are run on this same instance.
    let executor = LoopExecutor()

    init() {
        guard let multi = curl_multi_init() else { fatalError("curl_multi_init failed: out of memory") }
        self.multi = multi
        guard let poller = ttnm_poller_create() else { fatalError("cannot create the HTTP loop's poller: \(String(cString: strerror(errno)))") }
        self.poller = poller
        // Keep a connection per transfer that may be in flight at once (the default cache is 4 per handle added).
        ttnm_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, 512)
        ttnm_multi_setopt_pointer(multi, CURLMOPT_SOCKETDATA, Unmanaged.passUnretained(self).toOpaque())
        ttnm_multi_setopt_socket_cb(multi) { _, socket, what, context, _ in
            let loop = Unmanaged<CurlMultiLoop>.fromOpaque(context!).takeUnretainedValue()
            let remove = what == CURL_POLL_REMOVE
            _ = ttnm_poller_watch(loop.poller, socket, remove ? 0 : (what & CURL_POLL_IN), remove ? 0 : (what & CURL_POLL_OUT))
            return 0
        }
        executor.loop = self
    }

    /// Hands `request` to the loop; `completion` runs on the loop thread when it ends.
    func submit(_ request: HTTPRequest, configuration: HTTPClientConfiguration, completion: @escaping Completion) {
        let transfer = Transfer(request: request, configuration: configuration, completion: completion)
        // One wake-up per batch the loop takes, not one per request (a write(2) each; the eventfd adds them up).
        let queued = lock.withLock {
            submitted.append(transfer)
            return noteQueued()
        }
        wakeOrStart(startThread: queued.startThread, wake: queued.wake)
    }

    /// Queues a job for the loop thread (`LoopExecutor`); false once that thread has ended.
    func enqueue(_ job: UnownedJob) -> Bool {
        let queued: (startThread: Bool, wake: Bool)? = lock.withLock {
            guard !exited else { return nil }
            jobs.append(job)
            return noteQueued()
        }
        guard let queued else { return false }
        wakeOrStart(startThread: queued.startThread, wake: queued.wake)
        return true
    }

    /// Under `lock`, after queuing work: whether the thread must be started, or woken because it may be
    /// waiting (not when it queued the work itself: it looks at its queues again before it waits).
    private func noteQueued() -> (startThread: Bool, wake: Bool) {
        defer { started = true; wakePending = true }
        // The thread is only asked for when a wake-up would be written (most hand-overs find one pending).
        return (!started, started && !wakePending && !(loopThread.map { pthread_equal($0, pthread_self()) != 0 } ?? false))
    }

    /// Starts the loop thread on the first piece of work, or wakes it (`noteQueued` says which).
    private func wakeOrStart(startThread: Bool, wake: Bool) {
        if startThread {
            // The thread holds the loop until `close` is called and every transfer has ended.
            let thread = Thread { self.run() }
            // Steps run on this thread too (`taskExecutor`): the stack of a pool thread, not a small one.
            thread.stackSize = 8 << 20
            thread.name = "ttn-migrate-http"
            thread.start()
        } else if wake {
            ttnm_poller_wake(poller)
        }
    }

    /// Lets the loop thread end once the transfers in flight are done; the multi handle is freed then.
    func close() {
        let running: Bool = lock.withLock {
            closing = true
            // Without a thread, nothing will run a job queued from now on (`LoopExecutor` falls back then).
            if !started { exited = true }
            return started
        }
        if running { ttnm_poller_wake(poller) } else { cleanUp() }
    }

    private func cleanUp() {
        idleHandles.removeAll()
        curl_multi_cleanup(multi)
        ttnm_poller_destroy(poller)
    }

    private func run() {
        lock.withLock { loopThread = pthread_self() }
        let unownedExecutor = executor.asUnownedTaskExecutor()
        var descriptors = [Int32](repeating: 0, count: 128)
        var masks = [Int32](repeating: 0, count: 128)
        var running: Int32 = 0
        var ready: [UnownedJob] = []
        while true {
            // The jobs queued so far run first: they hand over the next requests.
            lock.withLock { swap(&ready, &jobs) }
            for job in ready { job.runSynchronously(on: unownedExecutor) }
            ready.removeAll(keepingCapacity: true)
            let (incoming, ended) = lock.withLock {
                defer { submitted.removeAll(keepingCapacity: true) }
                // Decided under the lock, so no job can be queued between the last look and the end.
                exited = closing && active.isEmpty && jobs.isEmpty && submitted.isEmpty
                return (submitted, exited)
            }
            if ended { break }
            for transfer in incoming { add(transfer) }
            // libcurl's next deadline (a connect or request timeout, a transfer to start), asked every time
            // rather than taken from its timer callback: that one is not called again for a deadline it
            // reported before, so a deadline handled a moment early would be lost and its transfer hang.
            var next = -1
            curl_multi_timeout(multi, &next)
            if next == 0 {
                curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running)
                finishCompleted()
                continue
            }
            // Work queued meanwhile (by this thread, which wrote no wake-up) is not kept waiting: the sockets
            // are only looked at then. Otherwise the next piece of work from another thread wakes the wait.
            let wait: Int32 = lock.withLock {
                guard jobs.isEmpty, submitted.isEmpty else { return 0 }
                wakePending = false
                return next < 0 ? 1000 : Int32(min(next, 1000))
            }
            let readyCount = ttnm_poller_wait(poller, &descriptors, &masks, 128, wait)
            for index in 0..<max(0, Int(readyCount)) {
                curl_multi_socket_action(multi, descriptors[index], masks[index], &running)
            }
            finishCompleted()
        }
        cleanUp()
    }

    private func add(_ transfer: Transfer) {
        let handle = idleHandles.popLast() ?? EasyHandle()
        transfer.handle = handle
        transfer.headerList = handle.prepare(transfer.request, configuration: transfer.configuration, sink: transfer.sink, poller: poller)
        active[handle.handle] = transfer
        let code = curl_multi_add_handle(multi, handle.handle)
        if code != CURLM_OK {
            active[handle.handle] = nil
            finish(transfer, code: CURLE_FAILED_INIT)
        }
    }

    private func finishCompleted() {
        var left: Int32 = 0
        while let message = curl_multi_info_read(multi, &left) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
                let transfer = active.removeValue(forKey: easy)
            else { continue }
            let code = message.pointee.data.result
            curl_multi_remove_handle(multi, easy)
            finish(transfer, code: code)
        }
    }

    private func finish(_ transfer: Transfer, code: CURLcode) {
        curl_slist_free_all(transfer.headerList)
        transfer.headerList = nil
        guard let handle = transfer.handle else { return }
        transfer.handle = nil
        let result = handle.result(of: transfer.request, code: code, sink: transfer.sink)
        idleHandles.append(handle)
        transfer.completion(result)
    }
}

/// Accumulates the body and the header fields during one transfer.
private final class TransferSink {
    var body = Data()
    var headers = HTTPHeaders()

    /// Takes one header line as libcurl hands it over (`Name: value\r\n`, or a status line, which
    /// starts the headers of a new response, as after a `100 Continue`). Parsed as bytes: the
    /// Foundation trimming it replaces cost a bridge to NSString per line.
    func takeHeaderLine(_ line: UnsafeRawBufferPointer) {
        let bytes = line.bindMemory(to: UInt8.self)
        if bytes.starts(with: Self.statusLinePrefix) {
            headers = HTTPHeaders()
            return
        }
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return }
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A }
        var nameEnd = colon
        while nameEnd > bytes.startIndex, isSpace(bytes[nameEnd - 1]) { nameEnd -= 1 }
        var valueStart = colon + 1
        var valueEnd = bytes.endIndex
        while valueStart < valueEnd, isSpace(bytes[valueStart]) { valueStart += 1 }
        while valueEnd > valueStart, isSpace(bytes[valueEnd - 1]) { valueEnd -= 1 }
        headers.append(
            name: String(decoding: UnsafeBufferPointer(rebasing: bytes[bytes.startIndex..<nameEnd]), as: UTF8.self),
            value: String(decoding: UnsafeBufferPointer(rebasing: bytes[valueStart..<valueEnd]), as: UTF8.self))
    }

    private static let statusLinePrefix = Array("HTTP/".utf8)
}

/// One libcurl easy handle, used by one transfer at a time on the loop thread.
private final class EasyHandle {
    let handle: UnsafeMutableRawPointer

    init() {
        guard let handle = curl_easy_init() else { fatalError("curl_easy_init failed: out of memory") }
        self.handle = handle
    }

    deinit { curl_easy_cleanup(handle) }

    /// Sets every option of `request` on the (reset) handle; returns the header list, which must live
    /// until the transfer ends. `sink` must live as long; the connections it opens are `poller`'s.
    func prepare(
        _ request: HTTPRequest, configuration: HTTPClientConfiguration, sink: TransferSink, poller: UnsafeMutablePointer<ttnm_poller>
    ) -> UnsafeMutablePointer<curl_slist>? {
        curl_easy_reset(handle)
        let sinkPointer = Unmanaged.passUnretained(sink).toOpaque()

        ttnm_easy_use_poller_sockets(handle, poller)

        ttnm_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        ttnm_easy_setopt_string(handle, CURLOPT_URL, request.url)
        ttnm_easy_setopt_string(handle, CURLOPT_USERAGENT, configuration.userAgent)
        ttnm_easy_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0)
        ttnm_easy_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(configuration.connectTimeout))
        ttnm_easy_setopt_long(handle, CURLOPT_TIMEOUT_MS, Self.milliseconds(request.timeout ?? configuration.requestTimeout))
        ttnm_easy_setopt_long(handle, CURLOPT_TCP_NODELAY, 1)
        ttnm_easy_setopt_string(handle, CURLOPT_NOPROXY, Self.noProxy)
        if configuration.insecure {
            ttnm_easy_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 0)
            ttnm_easy_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 0)
        } else {
            ttnm_easy_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 1)
            ttnm_easy_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 2)
            if let caFile = configuration.caFile {
                ttnm_easy_setopt_string(handle, CURLOPT_CAINFO, caFile)
            }
        }

        switch request.method {
        case "GET":
            ttnm_easy_setopt_long(handle, CURLOPT_HTTPGET, 1)
        case "HEAD":
            ttnm_easy_setopt_long(handle, CURLOPT_NOBODY, 1)
        default:
            ttnm_easy_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method)
        }
        if let body = request.body {
            ttnm_easy_setopt_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
            body.withUnsafeBytes { buffer in
                // COPYPOSTFIELDS copies the bytes, so the buffer need not outlive this call.
                _ = ttnm_easy_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!))
            }
        }

        var list: UnsafeMutablePointer<curl_slist>?
        var names = Set<String>()
        for header in request.headers {
            names.insert(header.name.lowercased())
            list = curl_slist_append(list, "\(header.name): \(header.value)")
        }
        if request.body != nil, !names.contains("content-type") {
            list = curl_slist_append(list, "Content-Type: application/json")
        }
        if !names.contains("accept") {
            list = curl_slist_append(list, "Accept: application/json")
        }
        // No "Expect: 100-continue" round trip on bodies.
        list = curl_slist_append(list, "Expect:")
        ttnm_easy_setopt_slist(handle, CURLOPT_HTTPHEADER, list)

        ttnm_easy_setopt_write_cb(handle, CURLOPT_WRITEFUNCTION) { pointer, size, count, context in
            let sink = Unmanaged<TransferSink>.fromOpaque(context!).takeUnretainedValue()
            let total = size * count
            if let pointer { sink.body.append(UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self), count: total) }
            return total
        }
        ttnm_easy_setopt_pointer(handle, CURLOPT_WRITEDATA, sinkPointer)
        ttnm_easy_setopt_write_cb(handle, CURLOPT_HEADERFUNCTION) { pointer, size, count, context in
            let sink = Unmanaged<TransferSink>.fromOpaque(context!).takeUnretainedValue()
            let total = size * count
            if let pointer { sink.takeHeaderLine(UnsafeRawBufferPointer(start: pointer, count: total)) }
            return total
        }
        ttnm_easy_setopt_pointer(handle, CURLOPT_HEADERDATA, sinkPointer)
        return list
    }

    /// The response (or error) of the transfer of `request` that ended with `code`.
    func result(of request: HTTPRequest, code: CURLcode, sink: TransferSink) -> Result<HTTPResponse, HTTPError> {
        guard code == CURLE_OK else {
            return .failure(Self.error(for: code, url: HTTPClient.displayURL(request.url), handle: handle))
        }
        var status = 0
        ttnm_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return .success(HTTPResponse(status: status, headers: sink.headers, body: sink.body, url: request.url))
    }

    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }

    /// `no_proxy` from the environment plus loopback, which is never proxied.
    static let noProxy: String = {
        let environment = ProcessInfo.processInfo.environment
        let configured = environment["no_proxy"] ?? environment["NO_PROXY"] ?? ""
        return ([configured, "127.0.0.1", "localhost", "::1"].filter { !$0.isEmpty }).joined(separator: ",")
    }()

    static func error(for code: CURLcode, url: String, handle: UnsafeMutableRawPointer) -> HTTPError {
        let detail = String(cString: curl_easy_strerror(code))
        var requestSize = 0
        ttnm_easy_getinfo_long(handle, CURLINFO_REQUEST_SIZE, &requestSize)
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_CONNECT:
            return .connectFailed(url: url, detail: detail)
        case CURLE_OPERATION_TIMEDOUT:
            return .timedOut(url: url, requestSent: requestSize > 0)
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
            CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_CRL_BADFILE:
            return .tls(url: url, detail: detail)
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL:
            return .invalidURL(url)
        case CURLE_GOT_NOTHING, CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_PARTIAL_FILE:
            return requestSize > 0 || code != CURLE_SEND_ERROR
                ? .connectionDropped(url: url, detail: detail) : .connectFailed(url: url, detail: detail)
        default:
            return .transport(url: url, code: Int(code.rawValue), detail: detail)
        }
    }
}
