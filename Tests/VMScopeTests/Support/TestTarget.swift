// Test support: start the C programs in TestTargets/ (built by
// `make -C TestTargets`) and talk to them over their stdin/stdout, and run
// processes (such as the `vmscope` executable) to completion.
//
// Every target prints `key=value` facts, then a line `ready`, then parks.
// Children are started with posix_spawn (not Foundation.Process) so that we
// control exactly what they inherit: an empty signal mask and default
// dispositions (test runners block or ignore signals in their threads), and
// no stray file descriptors.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A failure while starting or talking to a test process.
struct TestTargetError: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// A running test target (one of the programs in TestTargets/).
final class TestTarget: @unchecked Sendable {
    /// Root of the Swift package, from this file's location
    /// (<root>/Tests/VMScopeTests/Support/TestTarget.swift).
    static var packageRoot: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path
    }

    /// Where the compiled targets live: $VMSCOPE_TESTTARGETS, or
    /// <package root>/.build/testtargets (the Makefile's default).
    static var directory: String {
        if let dir = ProcessInfo.processInfo.environment["VMSCOPE_TESTTARGETS"], !dir.isEmpty {
            return dir
        }
        return packageRoot + "/.build/testtargets"
    }

    /// Full path of the target called `name`.
    static func path(_ name: String) -> String { directory + "/" + name }

    let name: String
    let pid: pid_t
    /// Every stdout line up to and including `ready`.
    private(set) var startupLines: [String] = []
    /// key=value facts from start-up lines whose first token is key=value
    /// (all k=v tokens of such a line are recorded).
    private(set) var facts: [String: String] = [:]

    private var stdinFD: Int32
    private var stdoutFD: Int32
    private var buffer: [UInt8] = []
    private var reaped = false
    private var exitStatus: Int32?

    /// Starts `directory/name` with `args` and waits (10 s) for `ready`.
    /// `environment` adds to (or overrides) the inherited environment.
    init(_ name: String, _ args: [String] = [], environment: [String: String]? = nil) throws {
        self.name = name
        ignoreSIGPIPEOnce()
        let path = name.hasPrefix("/") ? name : TestTarget.path(name)
        guard access(path, X_OK) == 0 else {
            throw TestTargetError(
                "test target '\(name)' not found or not executable at \(path) "
                + "(build it with `make -C TestTargets`, or set VMSCOPE_TESTTARGETS)")
        }
        let inPipe = try makePipe()
        let outPipe: (read: Int32, write: Int32)
        do { outPipe = try makePipe() } catch {
            close(inPipe.read); close(inPipe.write)
            throw error
        }
        let spawned: pid_t
        do {
            spawned = try spawnChild(
                path: path, args: args, environment: environment,
                stdin: .fd(inPipe.read), stdout: .fd(outPipe.write), stderr: .inherit)
        } catch {
            for fd in [inPipe.read, inPipe.write, outPipe.read, outPipe.write] { close(fd) }
            throw TestTargetError("cannot start test target '\(name)': \(error)")
        }
        close(inPipe.read)
        close(outPipe.write)
        pid = spawned
        stdinFD = inPipe.write
        stdoutFD = outPipe.read

        let deadline = monotonicNow() + 10
        do {
            while true {
                let line = try readLine(timeout: max(0, deadline - monotonicNow()))
                startupLines.append(line)
                if line == "ready" { break }
                let tokens = line.split(separator: " ")
                if let first = tokens.first, first.contains("="), !first.hasPrefix("=") {
                    for (k, v) in fields(line) { facts[k] = v }
                }
            }
        } catch {
            let state = self.state().map { String($0) } ?? "gone"
            terminate()
            var status = ""
            if let raw = exitStatus { status = ", " + TestTarget.describe(status: raw) }
            throw TestTargetError(
                "test target '\(name)' \(args) (pid \(spawned), state \(state)\(status)) did not "
                + "print 'ready': \(error); lines so far: \(startupLines)")
        }
        waitUntilParked()
    }

    /// `ready` is written just before the program parks: a test that attaches
    /// at once may find a thread still returning from that write(), with a
    /// different stack (seen: a frame-pointer walk from write instead of
    /// pause). Waits, briefly, until every thread sleeps in a system call
    /// other than write (/proc/PID/task/TID/syscall: "running" while it runs).
    func waitUntilParked(timeout: Double = 0.5) {
        let deadline = monotonicNow() + timeout
        while monotonicNow() < deadline {
            let tids = threadIDs()
            let parked = !tids.isEmpty && tids.allSatisfy { tid in
                guard let text = try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/syscall", encoding: .utf8),
                      let number = Int(text.prefix { $0 != " " && $0 != "\n" }) else { return false }
                return number != 1  // SYS_write
            }
            if parked { return }
            usleep(200)
        }
    }

    deinit {
        terminate()
        closeFDs()
    }

    // MARK: Reported facts

    func fact(_ key: String) -> String? { facts[key] }

    /// A fact parsed as a 0x-prefixed hex address.
    func address(_ key: String) -> UInt64? {
        guard let value = facts[key] else { return nil }
        return parseHex(value)
    }

    /// All k=v tokens of a line, e.g. "frame depth=3 fp=0x10" ->
    /// ["depth": "3", "fp": "0x10"].  Tokens without '=' are ignored.
    func fields(_ line: String) -> [String: String] {
        var result: [String: String] = [:]
        for token in line.split(separator: " ") {
            guard let eq = token.firstIndex(of: "="), eq != token.startIndex else { continue }
            result[String(token[..<eq])] = String(token[token.index(after: eq)...])
        }
        return result
    }

    /// Parses "0x1f" (or "1f") as hex; nil if malformed.
    func parseHex(_ text: String) -> UInt64? {
        var s = Substring(text)
        if s.hasPrefix("0x") || s.hasPrefix("0X") { s = s.dropFirst(2) }
        return s.isEmpty ? nil : UInt64(s, radix: 16)
    }

    // MARK: Talking to the target

    /// Writes `line` + "\n" to the target's stdin.
    func send(_ line: String) throws {
        guard stdinFD >= 0 else { throw TestTargetError("\(name): stdin already closed") }
        let bytes = Array((line + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(stdinFD, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw TestTargetError("\(name) (pid \(pid)): writing '\(line)' failed: \(errnoText())")
            }
            offset += n
        }
    }

    /// Closes the target's stdin (it sees EOF).
    func closeStdin() {
        if stdinFD >= 0 { close(stdinFD); stdinFD = -1 }
    }

    /// Reads one stdout line (without the newline), waiting up to `timeout` s.
    func readLine(timeout: Double = 10) throws -> String {
        let deadline = monotonicNow() + timeout
        while true {
            if let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<nl], as: UTF8.self)
                buffer.removeSubrange(...nl)
                return line
            }
            guard stdoutFD >= 0 else {
                throw TestTargetError("\(name) (pid \(pid)): stdout already closed")
            }
            let remaining = deadline - monotonicNow()
            if remaining <= 0 {
                throw TestTargetError(
                    "\(name) (pid \(pid)): no line within \(timeout) s"
                    + (buffer.isEmpty ? "" : "; partial: \(String(decoding: buffer, as: UTF8.self))"))
            }
            var pfd = pollfd(fd: stdoutFD, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, Int32(min(remaining * 1000, 1000).rounded(.up)))
            if ready < 0 {
                if errno == EINTR { continue }
                throw TestTargetError("\(name): poll failed: \(errnoText())")
            }
            if ready == 0 { continue }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { read(stdoutFD, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw TestTargetError("\(name): read failed: \(errnoText())")
            }
            if n == 0 {
                throw TestTargetError(
                    "\(name) (pid \(pid)): end of output (process exited or closed stdout)"
                    + (buffer.isEmpty ? "" : "; partial: \(String(decoding: buffer, as: UTF8.self))"))
            }
            buffer.append(contentsOf: chunk[0..<n])
        }
    }

    /// Sends a command and returns the one-line answer.
    func request(_ line: String, timeout: Double = 10) throws -> String {
        try send(line)
        return try readLine(timeout: timeout)
    }

    // MARK: Process state

    /// The state letter from /proc/PID/stat (R, S, t, T, Z, ...); nil if gone.
    func state() -> Character? {
        if reaped { return nil }
        return TestTarget.state(of: pid)
    }

    /// The state letter of any process or thread (/proc/ID/stat field 3).
    static func state(of id: pid_t) -> Character? {
        guard let stat = readSmallFile("/proc/\(id)/stat"),
              let paren = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(after: paren)...].first { $0 != " " }
    }

    /// Thread ids from /proc/PID/task, sorted.
    func threadIDs() -> [pid_t] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return names.compactMap { pid_t($0) }.sorted()
    }

    /// Polls waitpid(WNOHANG) until the target exits; returns the raw wait
    /// status, or nil if it is still alive after `timeout` seconds.
    func waitForExit(timeout: Double) -> Int32? {
        if reaped { return exitStatus }
        let deadline = monotonicNow() + timeout
        while true {
            var status: Int32 = 0
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid {
                if TestTarget.isTerminal(status: status) {
                    reaped = true
                    exitStatus = status
                    return status
                }
                continue // a stop report (only when we trace it ourselves)
            }
            if r < 0 && errno != EINTR {
                // ECHILD: not our child any more (someone else reaped it).
                reaped = true
                return exitStatus
            }
            if monotonicNow() >= deadline { return nil }
            usleep(10_000)
        }
    }

    /// SIGKILLs and reaps the target.  Idempotent; gives up reaping after
    /// 5 s (e.g. an external tracer that never lets go) rather than hang.
    func terminate() {
        if !reaped {
            kill(pid, SIGKILL)
            _ = waitForExit(timeout: 5)
        }
        closeFDs()
    }

    private func closeFDs() {
        closeStdin()
        if stdoutFD >= 0 { close(stdoutFD); stdoutFD = -1 }
    }

    // MARK: Wait status helpers

    static func isTerminal(status: Int32) -> Bool {
        exitCode(status: status) != nil || terminatingSignal(status: status) != nil
    }

    /// WEXITSTATUS if the process exited normally.
    static func exitCode(status: Int32) -> Int32? {
        (status & 0x7f) == 0 ? (status >> 8) & 0xff : nil
    }

    /// WTERMSIG if the process was killed by a signal.
    static func terminatingSignal(status: Int32) -> Int32? {
        let sig = status & 0x7f
        return (sig != 0 && sig != 0x7f) ? sig : nil
    }

    static func describe(status: Int32) -> String {
        if let code = exitCode(status: status) { return "exited with \(code)" }
        if let sig = terminatingSignal(status: status) { return "killed by signal \(sig)" }
        return "wait status 0x\(String(status, radix: 16))"
    }
}

/// Runs `path args` to completion (posix_spawn, default signal state),
/// feeding `stdin` (or /dev/null when nil) and capturing stdout and stderr.
/// `status` is the exit code, or 128 + signal number if killed by a signal.
/// Throws if it cannot start or is still running after `timeout` seconds
/// (it is then SIGKILLed; the error includes the output so far).
func runCommand(_ path: String, _ args: [String], stdin: String? = nil,
                timeout: Double = 60) throws -> (status: Int32, stdout: String, stderr: String) {
    ignoreSIGPIPEOnce()
    var opened: [Int32] = []
    defer { for fd in opened where fd >= 0 { close(fd) } }
    let outPipe = try makePipe(); opened += [outPipe.read, outPipe.write]
    let errPipe = try makePipe(); opened += [errPipe.read, errPipe.write]
    var inPipe: (read: Int32, write: Int32)?
    if stdin != nil {
        let p = try makePipe(); opened += [p.read, p.write]
        inPipe = p
    }
    let pid: pid_t
    do {
        pid = try spawnChild(path: path, args: args, environment: nil,
                             stdin: inPipe.map { .fd($0.read) } ?? .devNull,
                             stdout: .fd(outPipe.write), stderr: .fd(errPipe.write))
    } catch {
        throw TestTargetError("cannot run \(path) \(args): \(error)")
    }
    // Close the child's ends in the parent (so we see EOF when it exits).
    func closeOpened(_ fd: Int32) {
        if let i = opened.firstIndex(of: fd) { close(fd); opened[i] = -1 }
    }
    closeOpened(outPipe.write)
    closeOpened(errPipe.write)
    var inFD: Int32 = -1
    if let p = inPipe {
        closeOpened(p.read)
        inFD = p.write
        _ = fcntl(inFD, F_SETFL, fcntl(inFD, F_GETFL) | O_NONBLOCK)
    }
    let input = Array((stdin ?? "").utf8)
    var inputOffset = 0
    if inFD >= 0 && input.isEmpty { closeOpened(inFD); inFD = -1 }

    var out: [UInt8] = [], err: [UInt8] = []
    var outFD = outPipe.read, errFD = errPipe.read
    var status: Int32 = 0
    var exited = false
    let deadline = monotonicNow() + timeout

    func drain(_ fd: inout Int32, into data: inout [UInt8]) {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n > 0 {
            data.append(contentsOf: chunk[0..<n])
        } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
            closeOpened(fd); fd = -1
        }
    }

    while outFD >= 0 || errFD >= 0 || !exited {
        if !exited {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid && TestTarget.isTerminal(status: status) {
                exited = true
            } else if r < 0 && errno == ECHILD {
                exited = true
            }
        }
        if exited {
            // The child is gone; take what is already buffered and stop
            // (a grandchild may still hold the pipes open).
            if inFD >= 0 { closeOpened(inFD); inFD = -1 }
            for _ in 0..<64 {
                var pfds = [pollfd(fd: outFD, events: Int16(POLLIN), revents: 0),
                            pollfd(fd: errFD, events: Int16(POLLIN), revents: 0)]
                if outFD < 0 && errFD < 0 { break }
                let ready = poll(&pfds, 2, 0)
                if ready <= 0 { break }
                if outFD >= 0 && pfds[0].revents != 0 { drain(&outFD, into: &out) }
                if errFD >= 0 && pfds[1].revents != 0 { drain(&errFD, into: &err) }
            }
            break
        }
        if monotonicNow() >= deadline {
            kill(pid, SIGKILL)
            var s: Int32 = 0
            while waitpid(pid, &s, 0) < 0 && errno == EINTR {}
            throw TestTargetError(
                "\(path) \(args) still running after \(timeout) s; killed. stdout: "
                + String(decoding: out, as: UTF8.self) + "\nstderr: " + String(decoding: err, as: UTF8.self))
        }
        var pfds = [pollfd(fd: outFD, events: Int16(POLLIN), revents: 0),
                    pollfd(fd: errFD, events: Int16(POLLIN), revents: 0),
                    pollfd(fd: inFD, events: Int16(POLLOUT), revents: 0)]
        // poll ignores negative fds; wake up regularly to check waitpid.
        let ready = poll(&pfds, 3, 50)
        if ready <= 0 { continue }
        if outFD >= 0 && pfds[0].revents != 0 { drain(&outFD, into: &out) }
        if errFD >= 0 && pfds[1].revents != 0 { drain(&errFD, into: &err) }
        if inFD >= 0 && pfds[2].revents != 0 {
            let n = input[inputOffset...].withUnsafeBytes { write(inFD, $0.baseAddress, $0.count) }
            if n > 0 {
                inputOffset += n
            }
            if inputOffset >= input.count || (n < 0 && errno != EINTR && errno != EAGAIN) {
                closeOpened(inFD); inFD = -1 // all written, or the child closed its stdin
            }
        }
    }
    let code: Int32
    if let c = TestTarget.exitCode(status: status) {
        code = c
    } else if let s = TestTarget.terminatingSignal(status: status) {
        code = 128 + s
    } else {
        code = -1
    }
    return (code, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
}

// MARK: - Private helpers

private enum ChildFD {
    case inherit
    case devNull
    case fd(Int32)
}

/// Writing to a pipe whose reader died must fail with EPIPE, not kill the
/// test process.  (Children get SIGPIPE back via POSIX_SPAWN_SETSIGDEF.)
private let sigpipeIgnored: Bool = {
    signal(SIGPIPE, SIG_IGN)
    return true
}()

private func ignoreSIGPIPEOnce() { _ = sigpipeIgnored }

private func errnoText(_ code: Int32 = errno) -> String {
    "\(String(cString: strerror(code))) (errno \(code))"
}

private func monotonicNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// A pipe with close-on-exec on both ends (the child's end is dup2'ed onto
/// 0/1/2 by posix_spawn, which clears the flag on the copy).  Swift's Glibc
/// module does not export pipe2, hence pipe + fcntl.
private func makePipe() throws -> (read: Int32, write: Int32) {
    var fds: [Int32] = [-1, -1]
    guard pipe(&fds) == 0 else {
        throw TestTargetError("pipe failed: \(errnoText())")
    }
    for fd in fds where fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 {
        let message = "fcntl(FD_CLOEXEC) failed: \(errnoText())"
        close(fds[0]); close(fds[1])
        throw TestTargetError(message)
    }
    return (fds[0], fds[1])
}

/// Reads a (small, possibly size-0 /proc) file; nil if it cannot be opened.
private func readSmallFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var data: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n < 0 { return nil }
        if n == 0 { break }
        data.append(contentsOf: chunk[0..<n])
    }
    return String(decoding: data, as: UTF8.self)
}

/// posix_spawn with an empty signal mask and default dispositions for
/// signals 1...31, and the given stdin/stdout/stderr.
private func spawnChild(path: String, args: [String], environment: [String: String]?,
                        stdin: ChildFD, stdout: ChildFD, stderr: ChildFD) throws -> pid_t {
    var attr = posix_spawnattr_t()
    var rc = posix_spawnattr_init(&attr)
    guard rc == 0 else { throw TestTargetError("posix_spawnattr_init: \(errnoText(rc))") }
    defer { posix_spawnattr_destroy(&attr) }
    var emptyMask = sigset_t()
    sigemptyset(&emptyMask)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    // Every signal, set bit by bit: sigaddset refuses glibc's reserved 32
    // and 33, and the XCTest runner ignores 32, which a child would inherit.
    withUnsafeMutableBytes(of: &defaults) { bits in
        for sig in 1...64 where sig != Int(SIGKILL) && sig != Int(SIGSTOP) {
            bits[(sig - 1) / 8] |= UInt8(1) << UInt8((sig - 1) % 8)
        }
    }
    posix_spawnattr_setsigmask(&attr, &emptyMask)
    posix_spawnattr_setsigdefault(&attr, &defaults)
    rc = posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    guard rc == 0 else { throw TestTargetError("posix_spawnattr_setflags: \(errnoText(rc))") }

    var actions = posix_spawn_file_actions_t()
    rc = posix_spawn_file_actions_init(&actions)
    guard rc == 0 else { throw TestTargetError("posix_spawn_file_actions_init: \(errnoText(rc))") }
    defer { posix_spawn_file_actions_destroy(&actions) }
    for (child, target) in [(stdin, Int32(0)), (stdout, Int32(1)), (stderr, Int32(2))] {
        switch child {
        case .inherit:
            break
        case .devNull:
            rc = posix_spawn_file_actions_addopen(&actions, target, "/dev/null",
                                                  target == 0 ? O_RDONLY : O_WRONLY, 0)
        case .fd(let fd):
            rc = posix_spawn_file_actions_adddup2(&actions, fd, target)
        }
        guard rc == 0 else { throw TestTargetError("posix_spawn_file_actions: \(errnoText(rc))") }
    }

    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment ?? [:] { env[k] = v }
    let argv = ([path] + args).map { strdup($0) } + [nil]
    let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        for p in argv { free(p) }
        for p in envp { free(p) }
    }
    var pid: pid_t = 0
    rc = posix_spawn(&pid, path, &actions, &attr, argv, envp)
    guard rc == 0 else { throw TestTargetError("posix_spawn \(path): \(errnoText(rc))") }
    return pid
}
