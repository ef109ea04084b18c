// Measures how long a tool holds the target stopped: a thread of the bench
// polls /proc/PID/task/TID/stat of a few threads (the first, a middle and
// the last one, which bound the attach and detach order of all three
// tools) and records the first and the last moment any of them was in
// state `t` (tracing stop) or `T` (stopped by a signal, gdb's SIGSTOP).
import Glibc
import Synchronization

final class StopSampler: @unchecked Sendable {
    private let paths: [String]
    private let running = Atomic<Bool>(true)
    // Written by the sampling thread only; read after pthread_join.
    private var firstStopped: Double?
    private var lastStopped: Double?
    private var samples = 0
    private var started = 0.0
    private var ended = 0.0
    private var thread: pthread_t?

    init(pid: pid_t, threadIDs: [Int32]) {
        var chosen: [Int32] = []
        for tid in [threadIDs.first, threadIDs.isEmpty ? nil : threadIDs[threadIDs.count / 2], threadIDs.last] {
            if let tid, !chosen.contains(tid) { chosen.append(tid) }
        }
        if chosen.isEmpty { chosen = [pid] }
        paths = chosen.map { "/proc/\(pid)/task/\($0)/stat" }
    }

    func start() {
        var handle = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let made = pthread_create(&handle, nil, { raw in
            guard let raw else { return nil }
            let sampler = Unmanaged<StopSampler>.fromOpaque(raw).takeRetainedValue()
            sampler.loop()
            return nil
        }, context)
        if made == 0 { thread = handle } else { Unmanaged<StopSampler>.fromOpaque(context).release() }
    }

    /// Stops sampling; how long the target was seen stopped (nil: never),
    /// and the mean time between two samples (the resolution).
    func finish() -> (stopped: Double?, resolution: Double) {
        running.store(false, ordering: .releasing)
        if let thread { pthread_join(thread, nil) }
        let resolution = samples > 1 ? (ended - started) / Double(samples - 1) : 0
        guard let firstStopped, let lastStopped else { return (nil, resolution) }
        return (lastStopped - firstStopped, resolution)
    }

    private func loop() {
        // On a busy 2-core machine a sampler that loses its core for a
        // millisecond misses a whole stop: ask for the highest priority
        // (Linux nice values are per thread; who 0 is this thread). Without
        // the privilege it stays as it was.
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, -20)
        let fds = paths.map { open($0, O_RDONLY | O_CLOEXEC) }
        defer { for fd in fds where fd >= 0 { close(fd) } }
        var buffer = [UInt8](repeating: 0, count: 512)
        started = monotonicNow()
        while running.load(ordering: .acquiring) {
            var stopped = false
            for fd in fds where fd >= 0 {
                let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
                guard n > 0 else { continue }
                let line = String(decoding: buffer[0..<n], as: UTF8.self)
                if let state = threadState(fromStat: Substring(line)), state == "t" || state == "T" {
                    stopped = true
                }
            }
            let now = monotonicNow()
            samples += 1
            ended = now
            if stopped {
                if firstStopped == nil { firstStopped = now }
                lastStopped = now
            }
        }
    }
}
