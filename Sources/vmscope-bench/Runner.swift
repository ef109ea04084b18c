// Runs the tools against one target, alternating them round by round so
// that a change of machine load hits all of them alike.
import Glibc

/// One way to look at the target: a program and its arguments.
struct ToolCommand {
    let tool: String
    let path: String
    let arguments: [String]
    /// Slow tools (gdb) are repeated only within the time budget.
    let slow: Bool
}

final class Runner {
    let options: BenchOptions
    let environment: [String]
    let scratch: String
    private(set) var log: [String] = []

    init(options: BenchOptions) {
        self.options = options
        // No debuginfod look-ups from gdb or eu-stack: the network is not the tool.
        var env: [String] = []
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if !text.hasPrefix("DEBUGINFOD_URLS=") { env.append(text) }
            pointer += 1
        }
        environment = env
        scratch = "/tmp/vmscope-bench-\(getpid())"
        mkdir(scratch, 0o700)
    }

    func cleanUp() {
        for name in ["out.txt"] { unlink(scratch + "/" + name) }
        rmdir(scratch)
    }

    /// Runs `command` once, stdout to a scratch file: seconds, exit status.
    func runOnce(_ command: ToolCommand, sampler: StopSampler? = nil) throws -> (seconds: Double, status: Int32) {
        sampler?.start()
        let started = monotonicNow()
        let pid = try spawnChild(command.path, command.arguments, stdout: .file(scratch + "/out.txt"),
                                 environment: environment)
        let status = waitForExit(pid)
        let seconds = monotonicNow() - started
        return (seconds, status)
    }

    var lastOutput: String { readTextFile(scratch + "/out.txt") }

    /// Times every command `repeats` times, alternating the order; with
    /// `sampleStops`, each run is followed by one more run watched by a
    /// StopSampler (not timed: the sampling thread takes a core).
    func measure(_ commands: [ToolCommand], target: BenchTarget, sampleStops: Bool,
                 countFrames: Bool) throws -> [ToolTiming] {
        var timings = commands.map { ToolTiming(tool: $0.tool) }
        var spent = [Double](repeating: 0, count: commands.count)
        let tids = target.threadIDs
        for round in 0..<options.repeats {
            for step in 0..<commands.count {
                let index = (step + round) % commands.count
                let command = commands[index]
                if command.slow && round > 0 && spent[index] > options.slowToolBudget { continue }
                let run = try runOnce(command)
                spent[index] += run.seconds
                if run.status != 0 {
                    timings[index].failures += 1
                    if timings[index].note == nil { timings[index].note = "exit status \(run.status)" }
                    continue
                }
                timings[index].times.append(run.seconds)
                if countFrames && timings[index].frames == nil {
                    timings[index].frames = frameLineCount(Substring(lastOutput))
                }
                guard sampleStops else { continue }
                if command.slow && round > 0 && spent[index] > options.slowToolBudget { continue }
                let sampler = StopSampler(pid: target.pid, threadIDs: tids)
                let watched = try runOnce(command, sampler: sampler)
                spent[index] += watched.seconds
                let seen = sampler.finish()
                if watched.status == 0, let stopped = seen.stopped {
                    timings[index].stopped.append(stopped)
                    timings[index].resolution.append(seen.resolution)
                }
            }
        }
        return timings
    }

    func say(_ line: String) {
        log.append(line)
        print(line)
        fflush(nil)
    }
}
