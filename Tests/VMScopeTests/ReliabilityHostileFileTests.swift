import Foundation
import XCTest
@testable import VMScopeCore

/// Issue #8, case 7: the files behind a process are damaged (ELF header
/// fields, section table, symbol table, DWARF, .gnu_debugdata, truncated
/// after the loaded part), live under paths with spaces and newlines, are
/// replaced or deleted while the process runs: vmscope keeps working with
/// what can be read. The damaged copies still run, because the loader
/// needs only the program headers and the loaded bytes.
final class ReliabilityHostileFileTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        // A path with a space and a newline in it.
        directory = try Reliability.temporaryDirectory("files") + "/dir with space/new\nline"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: (directory as NSString).deletingLastPathComponent
            .replacingOccurrences(of: "/dir with space", with: ""))
    }

    private static let commands = ["bt", "bt all", "maps", "libs", "layout", "whereis $rip", "stack", "telescope $rsp 4",
                                   "explain stack", "frame 1", "threads"]

    /// Scrambles `count` bytes of `range` (deterministically).
    private static func scramble(_ bytes: inout [UInt8], _ range: Range<Int>, seed: UInt64) {
        guard !range.isEmpty else { return }
        var rng = ReliabilityFuzzTests.Generator(state: seed)
        for _ in 0..<min(range.count, 256) {
            bytes[Int.random(in: range, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
        }
    }

    private static func put(_ value: UInt64, width: Int, at offset: Int, in bytes: inout [UInt8]) {
        for i in 0..<width { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
    }

    /// The damaged variants of an ELF file: name -> bytes.
    static func damagedVariants(of original: [UInt8], name: String) throws -> [(String, [UInt8])] {
        let elf = try ELFFile(bytes: original, name: name)
        let loadedEnd = Int(elf.programHeaders.filter(\.isLoad).map { $0.offset + $0.fileSize }.max() ?? 0)
        let shoff = Int(original[40..<48].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        var variants: [(String, [UInt8])] = []
        var bytes = original
        scramble(&bytes, shoff..<original.count, seed: 1)
        variants.append(("section table scrambled", bytes))
        bytes = original
        put(UInt64.max - 8, width: 8, at: 40, in: &bytes)   // e_shoff
        put(0xffff, width: 2, at: 60, in: &bytes)           // e_shnum
        put(0xfffe, width: 2, at: 62, in: &bytes)           // e_shstrndx
        variants.append(("section header fields absurd", bytes))
        for section in [".symtab", ".strtab", ".dynsym", ".debug_info", ".debug_line", ".debug_abbrev", ".gnu_debugdata",
                        ".eh_frame_hdr"] {
            guard let found = elf.section(named: section), found.size > 0, !found.hasNoBits else { continue }
            bytes = original
            let range = Int(found.offset)..<Int(found.offset + found.size)
            // Damage that would stop the program from running is not the case here.
            if found.isAllocated && section != ".eh_frame_hdr" { continue }
            scramble(&bytes, range, seed: UInt64(range.lowerBound))
            variants.append(("\(section) scrambled", bytes))
        }
        if loadedEnd > 0 && loadedEnd < original.count {
            variants.append(("truncated after the loaded part", Array(original.prefix(loadedEnd))))
        }
        return variants
    }

    /// Runs vmscope's inspection commands on `pid`; returns the failures.
    private func inspect(_ pid: pid_t, _ label: String, expectFunction: String? = nil) throws -> Int {
        let steps = Self.commands.flatMap { ["-ex", $0] }
        let run = try VMScope.run(["--pid", String(pid), "--batch", "-ex", "set on-error continue"] + steps, timeout: 60)
        var failures = 0
        if run.status >= 128 { failures += 1; XCTFail("\(label): vmscope died: \(run.stderr)") }
        if !run.stdout.contains("#0") { failures += 1; XCTFail("\(label): no backtrace: \(run.stdout.prefix(400)) \(run.stderr)") }
        if let expectFunction, !run.stdout.contains(expectFunction) {
            failures += 1
            XCTFail("\(label): '\(expectFunction)' not named: \(run.stdout.prefix(600))")
        }
        let unexpected = run.stderr.split(separator: "\n").filter { $0.contains("Unexpected") || $0.contains("Internal") }
        if !unexpected.isEmpty { failures += 1; XCTFail("\(label): \(unexpected)") }
        XCTAssertEqual(Reliability.tracedThreads(pid), [], label)
        return failures
    }

    func testDamagedExecutablesAndLibrariesStillGetInspected() throws {
        var runs = 0, failures = 0
        for source in ["recurse", "recurse-minidebug"] {
            let original = try Array(Data(contentsOf: URL(fileURLWithPath: TestTarget.path(source))))
            for (label, bytes) in try Self.damagedVariants(of: original, name: source) {
                let path = directory + "/\(source) copy"
                try? FileManager.default.removeItem(atPath: path)
                XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes),
                                                             attributes: [.posixPermissions: 0o755]))
                let program: TestTarget
                do { program = try TestTarget(path, ["4"]) } catch {
                    print("skipped '\(source): \(label)': the damaged copy does not run (\(error))")
                    continue
                }
                runs += 1
                failures += try inspect(program.pid, "\(source): \(label)")
            }
        }
        // A damaged copy of a small shared library, preloaded into a sound program.
        let library = "/usr/lib/x86_64-linux-gnu/libdl.so.2"
        if let original = try? Array(Data(contentsOf: URL(fileURLWithPath: library))) {
            for (label, bytes) in try Self.damagedVariants(of: original, name: "libdl") {
                let path = directory + "/lib dl.so"
                try? FileManager.default.removeItem(atPath: path)
                XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
                let program: TestTarget
                do { program = try TestTarget("recurse", ["4"], environment: ["LD_PRELOAD": path]) } catch { continue }
                let maps = (try? String(contentsOfFile: "/proc/\(program.pid)/maps", encoding: .utf8)) ?? ""
                guard maps.contains("lib dl.so") else { continue }  // the loader refused it
                runs += 1
                failures += try inspect(program.pid, "libdl: \(label)", expectFunction: "recurse+0x")
            }
        }
        Reliability.report("hostile-files", ["runs": runs, "failures": failures])
        XCTAssertGreaterThan(runs, 10)
    }

    func testADeletedOrReplacedExecutableKeepsItsSymbols() throws {
        let path = directory + "/recurse copy"
        try FileManager.default.copyItem(atPath: TestTarget.path("recurse"), toPath: path)
        let deleted = try TestTarget(path, ["4"])
        try FileManager.default.removeItem(atPath: path)
        let maps = try String(contentsOfFile: "/proc/\(deleted.pid)/maps", encoding: .utf8)
        XCTAssertTrue(maps.contains("recurse copy (deleted)"), maps)
        XCTAssertEqual(try inspect(deleted.pid, "deleted executable", expectFunction: "recurse+0x"), 0)

        // The path now holds garbage while the process runs the old file.
        try FileManager.default.copyItem(atPath: TestTarget.path("recurse"), toPath: path)
        let replaced = try TestTarget(path, ["4"])
        let garbage = directory + "/garbage"
        XCTAssertTrue(FileManager.default.createFile(atPath: garbage, contents: Data(repeating: 0x7f, count: 100)))
        XCTAssertEqual(rename(garbage, path), 0)
        XCTAssertEqual(try inspect(replaced.pid, "replaced executable"), 0)

        // Replaced by another sound program: its symbols must not be used.
        let other = directory + "/other"
        try FileManager.default.copyItem(atPath: TestTarget.path("signals"), toPath: other)
        XCTAssertEqual(rename(other, path), 0)
        XCTAssertEqual(try inspect(replaced.pid, "executable replaced by another program", expectFunction: "recurse+0x"), 0)
    }
}
