// vmscope-bench: times vmscope against eu-stack, gdb and pmap on the
// TestTargets programs, and measures the in-session costs with
// VMScopeCore linked in. `make bench` builds it in release mode and runs it.
// Goals and reference numbers: issue #7 (README, "Performance").
import Glibc

enum VMScopeBench {
    static func medianOf(_ values: [Double]) -> Double? { median(values) }
}

guard let options = BenchOptions.parse(Array(CommandLine.arguments.dropFirst())) else {
    print(BenchOptions.usage)
    exit(2)
}
let runner = Runner(options: options)
defer { runner.cleanUp() }

@MainActor func tool(_ name: String) -> String? {
    let found = findInPath(name)
    if found == nil { runner.say("note: \(name) is not installed; its columns stay empty") }
    return found
}
let euStack = tool("eu-stack")
let gdb = options.skipGDB ? nil : tool("gdb")
let pmap = tool("pmap")
if euStack == nil || gdb == nil {
    runner.say("      (Debian: apt-get install elfutils gdb)")
}

var comparisons: [Comparison] = []
var backtraceJobs: [BenchJSON] = []
var backtraceRows: [[String]] = []
var stopRows: [[String]] = []

func ratio(_ a: Double?, _ b: Double?) -> Double? {
    guard let a, let b, b > 0 else { return nil }
    return a / b
}

/// The stop-time goal of the issue for a job (seconds), if it has one.
func stopGoal(depth: Int, threads: Bool) -> Double? {
    if threads { return 5e-3 }
    if depth == 1_000 { return 2e-3 }
    if depth == 10_000 { return 8e-3 }
    return nil
}

struct BacktraceJob {
    let label: String
    let program: String
    let arguments: [String]
    let depth: Int
    let threads: Bool
}

let jobs: [BacktraceJob] = [
    .init(label: "depth 10, -O0", program: "recurse", arguments: ["10"], depth: 10, threads: false),
    .init(label: "depth 10, -O2 no fp", program: "recurse-O2", arguments: ["10"], depth: 10, threads: false),
    .init(label: "depth 1,000, -O0", program: "recurse", arguments: ["1000"], depth: 1_000, threads: false),
    .init(label: "depth 1,000, -O2 no fp", program: "recurse-O2", arguments: ["1000"], depth: 1_000, threads: false),
    .init(label: "depth 10,000, -O0", program: "recurse", arguments: ["10000"], depth: 10_000, threads: false),
    .init(label: "depth 10,000, -O2 no fp", program: "recurse-O2", arguments: ["10000"], depth: 10_000, threads: false),
    .init(label: "51 threads, all stacks", program: "threads", arguments: ["50"], depth: 0, threads: true),
]

runner.say("vmscope-bench: \(options.repeats) runs per tool and job, medians; tools alternate run by run.")
for job in jobs {
    let target = try BenchTarget(directory: options.testTargets, name: job.program, arguments: job.arguments,
                                 environment: runner.environment)
    let pid = String(target.pid)
    var commands = [ToolCommand(tool: "vmscope", path: options.vmscope,
                                arguments: ["--pid", pid, "--batch", "-ex", job.threads ? "bt all" : "bt"], slow: false)]
    if let euStack { commands.append(ToolCommand(tool: "eu-stack", path: euStack, arguments: ["-n", "0", "-p", pid], slow: false)) }
    if let gdb {
        commands.append(ToolCommand(tool: "gdb", path: gdb,
                                    arguments: ["-batch", "-p", pid, "-ex", job.threads ? "thread apply all bt" : "bt"], slow: true))
    }
    let timings = try runner.measure(commands, target: target, sampleStops: true, countFrames: true)
    target.terminate()
    let mine = timings.first { $0.tool == "vmscope" }
    let eu = timings.first { $0.tool == "eu-stack" }
    let gd = timings.first { $0.tool == "gdb" }
    let vsEu = ratio(mine?.median, eu?.median)
    let vsGdb = ratio(mine?.median, gd?.median)
    let euGoal = job.threads ? 0.25 : 0.75
    let euMet = vsEu.map { $0 <= euGoal }
    let gdbMet = vsGdb.map { $0 <= 1.0 / 50 }
    let frames = timings.map { $0.frames.map(String.init) ?? "-" }.joined(separator: "/")
    backtraceRows.append([job.label, frames, formatDuration(mine?.median), formatDuration(eu?.median),
                          formatDuration(gd?.median),
                          formatRatio(vsEu) + " (<= " + formatNumber(euGoal) + "x: " + verdict(euMet) + ")",
                          formatRatio(vsGdb) + " (<= 0.020x: " + verdict(gdbMet) + ")"])
    let goal = stopGoal(depth: job.depth, threads: job.threads)
    let stopMet = goal.flatMap { g in mine?.stoppedMedian.map { $0 <= g } }
    stopRows.append([job.label, formatDuration(mine?.stoppedMedian), formatDuration(eu?.stoppedMedian),
                     formatDuration(gd?.stoppedMedian), goal.map { "<= " + formatDuration($0) } ?? "-", verdict(stopMet),
                     timings.map { String($0.stopped.count) }.joined(separator: "/")])
    backtraceJobs.append(.object([("job", .string(job.label)), ("program", .string(job.program)),
                                  ("arguments", .array(job.arguments.map(BenchJSON.string))),
                                  ("tools", .array(timings.map(\.json))),
                                  ("ratio_vs_eu_stack", .number(vsEu)), ("ratio_vs_gdb", .number(vsGdb)),
                                  ("eu_stack_goal_ratio", .number(euGoal)), ("eu_stack_goal_met", .bool(euMet)),
                                  ("gdb_goal_ratio", .number(1.0 / 50)), ("gdb_goal_met", .bool(gdbMet)),
                                  ("stop_goal_seconds", .number(goal)), ("stop_goal_met", .bool(stopMet))]))
    runner.say("  \(job.label): " + timings.map { "\($0.tool) \(formatDuration($0.median))" }.joined(separator: ", "))
}

// ---- in-session costs and floors (VMScopeCore linked in) ----
do {
    let shallow = try BenchTarget(directory: options.testTargets, name: "recurse", arguments: ["10"],
                                  environment: runner.environment)
    let floor = try InSession.attachFloor(pid: shallow.pid, repeats: 21)
    shallow.terminate()
    let many = try BenchTarget(directory: options.testTargets, name: "threads", arguments: ["50"],
                               environment: runner.environment)
    let floor51 = try InSession.attachFloor(pid: many.pid, repeats: 21)
    many.terminate()
    comparisons.append(Comparison(job: "floor: seize + getregs + detach, 1 thread (in-process)",
                                  value: formatDuration(floor), reference: "issue: 0.6 ms", ratio: nil, goal: "-", met: nil,
                                  numbers: [("seconds", .number(floor))]))
    comparisons.append(Comparison(job: "floor: same, 51 threads (in-process)",
                                  value: formatDuration(floor51), reference: "issue: 1.3 ms", ratio: nil, goal: "-", met: nil,
                                  numbers: [("seconds", .number(floor51))]))
    for program in ["recurse", "recurse-O2"] {
        let deep = try BenchTarget(directory: options.testTargets, name: program, arguments: ["10000"],
                                   environment: runner.environment)
        let unwind = try InSession.unwind(pid: deep.pid, repeats: 15)
        deep.terminate()
        let perFrame = unwind.microsecondsPerFrame
        let namedExtra = ratio(unwind.steadyNamed, unwind.steadyWalk).map { $0 - 1 }
        comparisons.append(Comparison(
            job: "unwind in session, \(program) 10,000 (\(unwind.frames) frames), steady",
            value: formatNumber(perFrame) + " us/frame", reference: "first walk " + formatDuration(unwind.firstWalk),
            ratio: nil, goal: "<= 1 us/frame", met: perFrame <= 1,
            numbers: [("frames", .int(unwind.frames)), ("first_walk_seconds", .number(unwind.firstWalk)),
                      ("steady_walk_seconds", .number(unwind.steadyWalk)), ("us_per_frame", .number(perFrame))]))
        comparisons.append(Comparison(
            job: "  with symbol names", value: formatNumber(unwind.namedMicrosecondsPerFrame) + " us/frame",
            reference: "names add " + (namedExtra.map { formatNumber($0 * 100) + "%" } ?? "-"),
            ratio: ratio(unwind.steadyNamed, unwind.steadyWalk), goal: "names add <= 30%",
            met: namedExtra.map { $0 <= 0.30 },
            numbers: [("steady_named_seconds", .number(unwind.steadyNamed)),
                      ("us_per_frame", .number(unwind.namedMicrosecondsPerFrame))]))
    }
}

// ---- memory: bulk read, x of 8 MB, gdb's dump and x/gx ----
do {
    let heap = try BenchTarget(directory: options.testTargets, name: "bigheap", arguments: ["256"],
                               environment: runner.environment)
    guard let start = heap.facts["heap"].flatMap({ UInt64($0.dropFirst(2), radix: 16) }),
          let size = heap.facts["size"].flatMap({ Int($0) }) else {
        throw SpawnError(description: "bigheap printed no heap= or size=")
    }
    let bulk = try InSession.bulkRead(pid: heap.pid, address: start, size: size, repeats: 5)
    let mbps = { (seconds: Double) in Double(size) / seconds / 1e6 }
    let memcpyRate = mbps(bulk.memcpy)
    let readRatio = ratio(mbps(bulk.reusedBuffer), memcpyRate)
    comparisons.append(Comparison(
        job: "bulk read of 256 MiB, reused buffer (in session)", value: formatNumber(mbps(bulk.reusedBuffer)) + " MB/s",
        reference: "memcpy " + formatNumber(memcpyRate) + " MB/s", ratio: readRatio, goal: ">= 0.5x memcpy",
        met: readRatio.map { $0 >= 0.5 },
        numbers: [("bytes", .int(size)), ("seconds", .number(bulk.reusedBuffer)), ("memcpy_seconds", .number(bulk.memcpy))]))
    comparisons.append(Comparison(
        job: "  Target.read into a new array", value: formatNumber(mbps(bulk.freshArray)) + " MB/s",
        reference: "memcpy " + formatNumber(memcpyRate) + " MB/s", ratio: ratio(mbps(bulk.freshArray), memcpyRate),
        goal: "-", met: nil, numbers: [("seconds", .number(bulk.freshArray))]))
    let hexStart = "0x" + String(start, radix: 16)
    let eight = 8 << 20
    var commands = [ToolCommand(tool: "vmscope", path: options.vmscope,
                                arguments: ["--pid", String(heap.pid), "--batch", "-ex", "x \(hexStart) \(eight)"], slow: true)]
    if let gdb {
        commands.append(ToolCommand(tool: "gdb", path: gdb,
                                    arguments: ["-batch", "-p", String(heap.pid), "-ex", "x/\(eight / 8)gx \(hexStart)"], slow: true))
    }
    let saved = runner.options
    let xTimings = try Runner(options: { var o = saved; o.repeats = min(saved.repeats, 3); return o }())
        .measure(commands, target: heap, sampleStops: false, countFrames: false)
    let xMine = xTimings.first?.median
    let xGdb = xTimings.count > 1 ? xTimings[1].median : nil
    let xRatio = ratio(xGdb, xMine)
    comparisons.append(Comparison(
        job: "x of 8 MB (whole process)", value: formatDuration(xMine), reference: "gdb x/gx " + formatDuration(xGdb),
        ratio: xRatio, goal: ">= 100x faster than gdb", met: xRatio.map { $0 >= 100 },
        numbers: [("tools", .array(xTimings.map(\.json)))]))
    if let gdb {
        let dump = ToolCommand(tool: "gdb", path: gdb, arguments: [
            "-batch", "-p", String(heap.pid), "-ex",
            "dump binary memory /dev/null \(hexStart) 0x\(String(start + UInt64(size), radix: 16))"], slow: true)
        let dumpTimings = try Runner(options: { var o = saved; o.repeats = min(saved.repeats, 3); return o }())
            .measure([dump], target: heap, sampleStops: false, countFrames: false)
        let seconds = dumpTimings.first?.median
        comparisons.append(Comparison(
            job: "  gdb dump memory of 256 MiB (whole process)",
            value: seconds.map { formatNumber(mbps($0)) + " MB/s" } ?? "-", reference: formatDuration(seconds),
            ratio: nil, goal: "-", met: nil, numbers: [("seconds", .number(seconds))]))
    }
    heap.terminate()
}

// ---- maps against pmap, and start-up ----
do {
    let target = try BenchTarget(directory: options.testTargets, name: "recurse", arguments: ["10"],
                                 environment: runner.environment)
    var commands = [ToolCommand(tool: "vmscope", path: options.vmscope,
                                arguments: ["--pid", String(target.pid), "--batch", "-ex", "maps"], slow: false)]
    if let pmap { commands.append(ToolCommand(tool: "pmap", path: pmap, arguments: [String(target.pid)], slow: false)) }
    commands.append(ToolCommand(tool: "vmscope-startup", path: options.vmscope,
                                arguments: ["--batch", "-ex", "echo started"], slow: false))
    if let truePath = findInPath("true") { commands.append(ToolCommand(tool: "true", path: truePath, arguments: [], slow: false)) }
    // Start-up is a few milliseconds: three times the runs, for a steadier median.
    let timings = try Runner(options: { var o = options; o.repeats = options.repeats * 3; return o }())
        .measure(commands, target: target, sampleStops: false, countFrames: false)
    target.terminate()
    func time(_ name: String) -> Double? { timings.first { $0.tool == name }?.median }
    let mapsRatio = ratio(time("vmscope"), time("pmap"))
    comparisons.append(Comparison(
        job: "maps (whole process)", value: formatDuration(time("vmscope")), reference: "pmap " + formatDuration(time("pmap")),
        ratio: mapsRatio, goal: "<= 0.75x pmap", met: mapsRatio.map { $0 <= 0.75 },
        numbers: [("tools", .array(timings.filter { $0.tool == "vmscope" || $0.tool == "pmap" }.map(\.json)))]))
    let startup = time("vmscope-startup")
    comparisons.append(Comparison(
        job: "start-up to first batch command (vmscope --batch -ex echo)", value: formatDuration(startup),
        reference: "/bin/true " + formatDuration(time("true")), ratio: nil, goal: "<= 5 ms",
        met: startup.map { $0 <= 5e-3 },
        numbers: [("seconds", .number(startup)), ("true_seconds", .number(time("true")))]))
}

// ---- the report ----
var machine = "unknown machine"
if let cpu = readTextFile("/proc/cpuinfo").split(separator: "\n").first(where: { $0.hasPrefix("model name") }) {
    machine = String(cpu.split(separator: ":", maxSplits: 1).last ?? "").trimmingLeadingSpaces
}
let cores = sysconf(Int32(_SC_NPROCESSORS_ONLN))
runner.say("")
runner.say("Machine: \(cores) cores, \(machine). Whole processes, medians of up to \(options.repeats) runs.")
runner.say("")
runner.say("One-shot backtrace (start, attach, bt, detach, exit):")
runner.say(markdownTable(["job", "frames (vmscope/eu-stack/gdb)", "vmscope", "eu-stack", "gdb", "vmscope / eu-stack (goal)",
                          "vmscope / gdb (goal)"], backtraceRows))
runner.say("")
runner.say("Time the target is held stopped (polled /proc/TID/stat state t):")
runner.say(markdownTable(["job", "vmscope", "eu-stack", "gdb", "goal", "", "runs seen stopped"], stopRows))
runner.say("")
runner.say("Inside a session, memory, maps and start-up:")
runner.say(markdownTable(["job", "vmscope", "reference", "ratio", "goal", ""],
                         comparisons.map { [$0.job, $0.value, $0.reference, formatRatio($0.ratio), $0.goal, verdict($0.met)] }))

let json = BenchJSON.object([
    ("machine", .object([("cores", .int(cores)), ("cpu", .string(machine))])),
    ("repeats", .int(options.repeats)),
    ("backtrace", .array(backtraceJobs)),
    ("comparisons", .array(comparisons.map(\.json))),
])
let file = fopen(options.jsonPath, "w")
if let file {
    fputs(json.rendered() + "\n", file)
    fclose(file)
    runner.say("\nWrote \(options.jsonPath).")
} else {
    runner.say("\nCould not write \(options.jsonPath).")
}

extension String {
    var trimmingLeadingSpaces: String { String(drop { $0 == " " || $0 == "\t" }) }
}
