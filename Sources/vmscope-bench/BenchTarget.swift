// A TestTargets program started for the benchmark: it prints key=value facts
// and `ready`, then parks; the bench reads the facts and kills it at the end.
import Glibc

final class BenchTarget {
    let name: String
    let pid: pid_t
    private(set) var facts: [String: String] = [:]
    private var readFD: Int32

    init(directory: String, name: String, arguments: [String], environment: [String]) throws {
        self.name = name
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw SpawnError(description: "pipe failed") }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        let path = directory + "/" + name
        guard access(path, X_OK) == 0 else {
            close(fds[0]); close(fds[1])
            throw SpawnError(description: "\(path) is missing: run `make testtargets` first")
        }
        do {
            pid = try spawnChild(path, arguments, stdout: .pipe(fds[1]), environment: environment)
        } catch {
            close(fds[0]); close(fds[1])
            throw error
        }
        close(fds[1])
        readFD = fds[0]
        try readUntilReady()
    }

    deinit { terminate() }

    /// Reads lines (the recursion target prints one per frame) up to `ready`.
    private func readUntilReady() throws {
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        let deadline = monotonicNow() + 30
        while monotonicNow() < deadline {
            let n = chunk.withUnsafeMutableBytes { read(readFD, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            pending.append(contentsOf: chunk[0..<n])
            while let newline = pending.firstIndex(of: 10) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                if line == "ready" {
                    // Let it reach its parking call (the write of "ready"
                    // and stdio's flush are still on its stack for a moment).
                    usleep(20_000)
                    return
                }
                for token in line.split(separator: " ") {
                    let parts = token.split(separator: "=", maxSplits: 1)
                    if parts.count == 2 { facts[String(parts[0])] = String(parts[1]) }
                }
            }
        }
        terminate()
        throw SpawnError(description: "\(name) did not print `ready`")
    }

    /// The thread ids of the target, ascending (main thread first).
    var threadIDs: [Int32] {
        let dir = opendir("/proc/\(pid)/task")
        guard let dir else { return [pid] }
        defer { closedir(dir) }
        var tids: [Int32] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if let tid = Int32(name) { tids.append(tid) }
        }
        return tids.sorted()
    }

    func terminate() {
        guard readFD >= 0 else { return }
        kill(pid, SIGKILL)
        waitForExit(pid)
        close(readFD)
        readFD = -1
    }
}
