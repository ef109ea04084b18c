import Foundation
import XCTest

/// The address-space commands driven through the real executable against
/// real processes (issue #3). Every expected value comes from the target
/// itself or from /proc, never from the model.
final class LayoutCommandTests: XCTestCase {
    /// The one JSON result of a single-command batch run (after the attach/run line).
    func result(_ run: (status: Int32, lines: [[String: Any]], stderr: String), _ index: Int = 1,
                file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        XCTAssertEqual(run.status, 0, run.stderr, file: file, line: line)
        guard index < run.lines.count, let result = run.lines[index]["result"] as? [String: Any] else {
            throw TestTargetError("no result \(index) in \(run.lines) \(run.stderr)")
        }
        return result
    }

    func bands(_ layout: [String: Any]) throws -> [[String: Any]] {
        try XCTUnwrap(layout["bands"] as? [[String: Any]])
    }

    func testTextBandOfNonPIEStartsAt0x400000AndOfPIEAtELFETDYNBase() throws {
        for (program, expected, pie) in [("recurse-nopie", UInt64(0x400000), false), ("recurse", UInt64(0x5555_5555_4000), true)] {
            let run = try VMScope.json(["--batch", "-ex", "layout", "-ex", "aslr", "--", TestTarget.path(program), "3"])
            let layout = try result(run)
            let text = try XCTUnwrap(try bands(layout).first { $0["kind"] as? String == "text" }, program)
            XCTAssertEqual(hexValue(text["start"]), expected, program)
            for key in ["name", "start", "end", "kind"] { XCTAssertNotNil(text[key], key) }
            XCTAssertFalse((layout["differences"] as? [String] ?? []).isEmpty)
            let aslr = try result(run, 2)
            XCTAssertEqual(aslr["pie"] as? Bool, pie, program)
            XCTAssertEqual(aslr["addr_no_randomize"] as? Bool, true, program)
            XCTAssertEqual(aslr["randomized"] as? Bool, false, program)
            XCTAssertEqual(hexValue(aslr["mmap_min_addr"]),
                           UInt64(try String(contentsOfFile: "/proc/sys/vm/mmap_min_addr", encoding: .utf8)
                                  .trimmingCharacters(in: .whitespacesAndNewlines)))
        }
    }

    /// `brk` equals the sbrk(0) the heap-grower prints at each step, and
    /// `layout`'s heap band runs from start_brk (stat field 47) to it.
    func testBrkAndHeapBandFollowTheTargetsSbrk() throws {
        let program = try TestTarget("heapgrow")
        var previous: UInt64 = 0
        for step in ["brk", "sbrk 8192", "sbrk 100000"] {
            let printed = try XCTUnwrap(program.fields(try program.request(step))["brk"].flatMap(program.parseHex))
            let run = try VMScope.json(["--pid", "\(program.pid)", "--batch", "-ex", "brk", "-ex", "layout"])
            let brk = try result(run)
            XCTAssertEqual(hexValue(brk["brk"]), printed, step)
            XCTAssertGreaterThan(printed, previous, step)
            previous = printed
            let stat = try String(contentsOfFile: "/proc/\(program.pid)/stat", encoding: .utf8)
            let fields = stat[stat.range(of: ")", options: .backwards)!.upperBound...].split(separator: " ")
            let startBrk = UInt64(fields[47 - 3])
            XCTAssertEqual(hexValue(brk["start_brk"]), startBrk)
            let heap = try XCTUnwrap(try bands(try result(run, 2)).first { $0["kind"] as? String == "heap" })
            XCTAssertEqual(hexValue(heap["start"]), startBrk)
            XCTAssertEqual(hexValue(heap["end"]), printed)
        }
        XCTAssertEqual(program.fields(try program.request("brk"))["brk"].flatMap(program.parseHex), previous)
    }

    /// Every thread's stack is found from its rsp and labelled with its tid;
    /// `whereis` of a local each thread printed names that thread's stack.
    func testThreadStacksAreLabelledAndWhereisNamesTheThread() throws {
        let program = try TestTarget("threads", ["3"])
        var locals: [(tid: Int, local: String)] = []
        for line in program.startupLines {
            let f = program.fields(line)
            if let tid = f["tid"].flatMap(Int.init), let local = f["local"] { locals.append((tid, local)) }
            if let tid = f["main_tid"].flatMap(Int.init), let local = f["local"] { locals.append((tid, local)) }
        }
        XCTAssertEqual(locals.count, 4)
        let run = try VMScope.json(["--pid", "\(program.pid)", "--batch", "-ex", "maps thread"]
                                   + locals.flatMap { ["-ex", "whereis \($0.local)"] })
        let stacks = try XCTUnwrap(try result(run)["maps"] as? [[String: Any]])
        XCTAssertEqual(Set(stacks.compactMap { $0["tid"] as? Int }), Set(locals.dropLast().map(\.tid)))
        for (i, entry) in locals.enumerated() {
            let whereis = try result(run, i + 2)
            XCTAssertEqual(whereis["thread"] as? Int, entry.tid, entry.local)
            let isMain = entry.tid == Int(program.pid)
            XCTAssertEqual(whereis["band"] as? String, isMain ? "stack" : "mmap region")
            XCTAssertEqual(whereis["kind"] as? String, isMain ? "stack" : "thread stack")
            XCTAssertNotNil(whereis["mapping"] as? String)
            XCTAssertTrue((whereis["description"] as? String ?? "").contains(isMain ? "main thread's stack" : "thread \(entry.tid)"))
        }
    }

    /// The model's order holds for a normal process and is reported broken,
    /// with the reason, for one started with an unlimited stack (the kernel's
    /// legacy bottom-up mmap layout puts libraries below the executable).
    func testOrderCheckHoldsNormallyAndFailsUnderTheLegacyLayout() throws {
        func layout(of program: TestTarget) throws -> [String: Any] {
            try result(try VMScope.json(["--pid", "\(program.pid)", "--batch", "-ex", "layout"]))
        }
        let normal = try layout(of: try TestTarget("threads", ["1"]))
        XCTAssertEqual((normal["order"] as? [String: Any])?["holds"] as? Bool, true)
        let resource = __rlimit_resource_t(RLIMIT_STACK.rawValue)
        var saved = rlimit()
        XCTAssertEqual(getrlimit(resource, &saved), 0)
        guard saved.rlim_max == rlim_t.max else { throw XCTSkip("the hard stack limit is finite here") }
        var unlimited = saved
        unlimited.rlim_cur = rlim_t.max  // RLIM_INFINITY
        XCTAssertEqual(setrlimit(resource, &unlimited), 0)
        let legacyProgram: TestTarget
        do {
            legacyProgram = try TestTarget("threads", ["1"])
            _ = setrlimit(resource, &saved)
        } catch {
            _ = setrlimit(resource, &saved)
            throw error
        }
        let legacy = try layout(of: legacyProgram)
        let order = try XCTUnwrap(legacy["order"] as? [String: Any])
        XCTAssertEqual(order["holds"] as? Bool, false)
        XCTAssertFalse((order["violations"] as? [String] ?? []).isEmpty)
        XCTAssertTrue((legacy["differences"] as? [String] ?? []).contains { $0.contains("legacy bottom-up layout") })
    }

    /// `libs` equals the libraries in /proc/PID/maps, agrees with the linker's
    /// own list, and a library the target dlopens appears at the next stop.
    func testLibsMatchMapsAndSeeADlopenedLibrary() throws {
        let program = try TestTarget("heapgrow")
        func libsNow() throws -> (paths: Set<String>, agree: Bool?) {
            let libs = try result(try VMScope.json(["--pid", "\(program.pid)", "--batch", "-ex", "libs"]))
            let entries = try XCTUnwrap(libs["libraries"] as? [[String: Any]])
            return (Set(entries.compactMap { $0["path"] as? String }), libs["agree"] as? Bool)
        }
        func mapsLibraries() throws -> Set<String> {
            let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(program.pid)/exe")
            return Set(try procMapsLines(program.pid).compactMap { line -> String? in
                let f = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
                guard f.count == 6 else { return nil }
                let path = f[5].trimmingCharacters(in: .whitespaces)
                return path.hasPrefix("/") && path != exe ? path : nil
            })
        }
        let before = try libsNow()
        XCTAssertEqual(before.paths, try mapsLibraries())
        XCTAssertEqual(before.agree, true)
        XCTAssertFalse(before.paths.contains { $0.hasSuffix("/libz.so.1.2.13") || $0.contains("/libz.so") })
        XCTAssertTrue(try program.request("dlopen libz.so.1").hasPrefix("dlopen=ok"))
        let after = try libsNow()
        XCTAssertEqual(after.paths, try mapsLibraries())
        XCTAssertEqual(after.agree, true)
        XCTAssertTrue(after.paths.contains { $0.contains("/libz.so") }, "\(after.paths)")
    }

    /// `whereis` puts the model's landmarks in the model's bands.
    func testWhereisGivesTheModelsBands() throws {
        let program = try TestTarget("recurse", ["2"])
        let cases: [(String, String, String?)] = [
            ("0x0", "low reserved", nil), ("0x1000", "low reserved", nil),
            ("0x0000800000000000", "non-canonical hole", nil), ("0xffff800000000000", "kernel half", nil),
            ("0xffffffffff600000", "kernel half", "[vsyscall]"), ("0x7ffffffff800", "top page", nil),
        ]
        let run = try VMScope.json(["--pid", "\(program.pid)", "--batch"] + cases.flatMap { ["-ex", "whereis \($0.0)"] })
        for (i, (address, band, mapping)) in cases.enumerated() {
            let whereis = try result(run, i + 1)
            XCTAssertEqual(whereis["band"] as? String, band, address)
            XCTAssertEqual(hexValue(whereis["address"]), UInt64(address.dropFirst(2), radix: 16))
            if let mapping {
                XCTAssertTrue((whereis["mapping"] as? String ?? "").hasSuffix(mapping), address)
            } else {
                XCTAssertTrue(whereis["mapping"] is NSNull, address)
            }
        }
        // A function of the executable: text band, its symbol and section.
        let recurse = try XCTUnwrap(program.fact("recurse"))
        let symbol = try result(try VMScope.json(["--pid", "\(program.pid)", "--batch", "-ex", "whereis \(recurse)"]))
        XCTAssertEqual(symbol["band"] as? String, "text")
        XCTAssertEqual(symbol["symbol"] as? String, "recurse")
        XCTAssertEqual(symbol["section"] as? String, ".text")
    }

    /// `--symbolic` makes two launches under ASLR print the same transcript,
    /// although the addresses differ between them.
    func testSymbolicTranscriptsOfTwoRandomisedLaunchesAreIdentical() throws {
        let script = ["layout", "brk", "whereis $rsp", "whereis $rip", "maps", "libs", "auxv", "aslr"]
        func launch(_ extra: [String]) throws -> String {
            let run = try VMScope.run(["--aslr", "--batch"] + extra + script.flatMap { ["-ex", $0] }
                                      + ["--", TestTarget.path("heapgrow")])
            XCTAssertEqual(run.status, 0, run.stderr)
            // The start line names the process (its pid and first rip): not a layout command's output.
            return run.stdout.split(separator: "\n").filter { !$0.hasPrefix("Started ") }.joined(separator: "\n")
        }
        let plain = (try launch([]), try launch([]))
        XCTAssertNotEqual(plain.0, plain.1, "ASLR did not move anything: the test would prove nothing")
        let first = try launch(["--symbolic"]), second = try launch(["--symbolic"])
        XCTAssertEqual(first, second)
        for token in ["heap+0x0", "stack_top+0x0", "heapgrow+0x1000", "ld-linux-x86-64.so.2+0x0", "vdso+0x0"] {
            XCTAssertTrue(first.contains(token), "\(token) missing from\n\(first)")
        }
    }

    /// The same for two running multi-threaded processes, attached: thread
    /// stacks are named by creation order (thread_stack#1...), not address.
    func testSymbolicTranscriptsOfTwoThreadedProcessesAreIdentical() throws {
        func transcript() throws -> (symbolic: String, plain: String) {
            let program = try TestTarget("threads", ["2"])
            let local = try XCTUnwrap(program.startupLines.first { $0.contains("index=1") }.flatMap { program.fields($0)["local"] })
            let script = ["layout --full", "maps", "whereis \(local)", "brk", "libs"].flatMap { ["-ex", $0] }
            func run(_ extra: [String]) throws -> String {
                let run = try VMScope.run(["--pid", "\(program.pid)", "--batch"] + extra + script)
                XCTAssertEqual(run.status, 0, run.stderr)
                return run.stdout.split(separator: "\n").filter { !$0.hasPrefix("Attached ") }.joined(separator: "\n")
            }
            return (try run(["--symbolic"]), try run([]))
        }
        let first = try transcript(), second = try transcript()
        XCTAssertNotEqual(first.plain, second.plain)
        XCTAssertEqual(first.symbolic, second.symbolic)
        XCTAssertTrue(first.symbolic.contains("thread_stack#2-0x"), first.symbolic)
    }

    func testMapsKindsFiltersAndSVG() throws {
        let program = try TestTarget("heapgrow")
        _ = try program.request("sbrk 4096")
        let svg = NSTemporaryDirectory() + "vmscope-layout-\(program.pid).svg"
        defer { try? FileManager.default.removeItem(atPath: svg) }
        let heapLine = try XCTUnwrap(try procMapsLines(program.pid).first { $0.hasSuffix("[heap]") })
        let heapStart = try XCTUnwrap(UInt64(heapLine.prefix { $0 != "-" }, radix: 16))
        let run = try VMScope.json(["--pid", "\(program.pid)", "--batch", "-ex", "maps", "-ex", "maps heap",
                                    "-ex", "maps libc", "-ex", "maps \(hex(heapStart + 16))", "-ex", "layout --full --svg \(svg)"])
        let all = try XCTUnwrap(try result(run)["maps"] as? [[String: Any]])
        XCTAssertEqual(all.count, try procMapsLines(program.pid).count)
        let kinds = Dictionary(all.map { ($0["path"] as? String ?? "", $0["kind"] as? String ?? "") }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(kinds["[heap]"], "heap")
        XCTAssertEqual(kinds["[stack]"], "stack")
        XCTAssertEqual(kinds["[vdso]"], "vdso")
        XCTAssertEqual(kinds["[vsyscall]"], "vsyscall")
        XCTAssertEqual(Set(all.filter { ($0["path"] as? String ?? "").hasSuffix("/heapgrow") }.compactMap { $0["kind"] as? String }),
                       ["rodata", "code", "data"])
        let heapOnly = try XCTUnwrap(try result(run, 2)["maps"] as? [[String: Any]])
        XCTAssertEqual(heapOnly.map { $0["path"] as? String }, ["[heap]"])
        let libc = try XCTUnwrap(try result(run, 3)["maps"] as? [[String: Any]])
        XCTAssertFalse(libc.isEmpty)
        XCTAssertTrue(libc.allSatisfy { ($0["owner"] as? String) == "libc.so.6" })
        let byAddress = try XCTUnwrap(try result(run, 4)["maps"] as? [[String: Any]])
        XCTAssertEqual(byAddress.map { hexValue($0["start"]) }, [heapStart])
        let layout = try result(run, 5)
        let kindsInLayout = Set(try bands(layout).compactMap { $0["kind"] as? String })
        XCTAssertTrue(kindsInLayout.isSuperset(of: ["kernel half", "non-canonical hole", "top page", "stack", "mmap region", "heap", "data", "text"]))
        let drawing = try String(contentsOfFile: svg, encoding: .utf8)
        XCTAssertTrue(drawing.hasPrefix("<svg"))
        XCTAssertTrue(drawing.contains("heap") && drawing.contains("libc.so.6") && drawing.hasSuffix("</svg>\n"))
        XCTAssertTrue(drawing.contains("heap  &lt;- break"), "the break marker sits on the heap band")
        let markers = try XCTUnwrap(layout["markers"] as? [String: Any])
        XCTAssertEqual(hexValue(markers["break"]), program.fields(try program.request("brk"))["brk"].flatMap(program.parseHex))
    }

    /// After `brk` (a single-step inside the target), an emergency detach
    /// (SIGTERM to vmscope) hands back no stray SIGTRAP: the target lives on.
    func testEmergencyDetachAfterBrkLeavesTheTargetAlive() throws {
        let program = try TestTarget("heapgrow")
        let printed = try XCTUnwrap(program.fields(try program.request("brk"))["brk"])
        // vmscope prints the break, then `ready`, then waits on its stdin.
        let shell = try TestTarget(VMScope.binary, ["--pid", "\(program.pid)", "-ex", "brk", "-ex", "echo ready"])
        XCTAssertTrue(shell.startupLines.contains { $0.contains(printed) }, "\(shell.startupLines)")
        kill(shell.pid, SIGTERM)
        XCTAssertNotNil(shell.waitForExit(timeout: 10))
        XCTAssertEqual(program.fields(try program.request("brk"))["brk"], printed)
        XCTAssertNotEqual(program.state(), "t")
    }

    func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
}
