import Foundation
import XCTest
@testable import VMScopeCore
@testable import VMScopeShell

/// Capstone, readline and libdw are opened with dlopen when a command first
/// needs them (issue #7: start-up time), never linked. The dynamic loader's
/// own trace (LD_DEBUG=libs, "calling init: PATH" for every library it
/// initialises) says which were loaded.
final class LazyLoadingTests: XCTestCase {
    /// Runs vmscope under LD_DEBUG=libs: (stdout, names of the libraries initialised).
    private func runTraced(_ args: [String]) throws -> (status: Int32, stdout: String, loaded: [String]) {
        let result = try runCommand("/usr/bin/env", ["LD_DEBUG=libs", VMScope.binary] + args)
        let loaded = result.stderr.split(separator: "\n").compactMap { line -> String? in
            guard let range = line.range(of: "calling init: ") else { return nil }
            return String(line[range.upperBound...].split(separator: "/").last ?? "")
        }
        return (result.status, result.stdout, loaded)
    }

    private let lazyLibraries = ["libcapstone.so.4", "libreadline.so.8", "libdw.so.1", "libtinfo.so.6"]

    func testABatchRunLoadsNoneOfTheLazyLibraries() throws {
        let run = try runTraced(["--batch", "-ex", "echo started"])
        XCTAssertEqual(run.status, 0)
        XCTAssertEqual(run.stdout, "started\n")
        XCTAssertTrue(run.loaded.contains("libc.so.6"), "the loader trace works: \(run.loaded)")
        for library in lazyLibraries {
            XCTAssertFalse(run.loaded.contains(library), "\(library) loaded by echo: \(run.loaded)")
        }
    }

    func testDisasLoadsCapstoneAndDecodesTheTargetsMain() throws {
        let program = try TestTarget("recurse", ["3"])
        defer { program.terminate() }
        let main = try XCTUnwrap(program.address("main"))
        let run = try runTraced(["--pid", "\(program.pid)", "--batch", "-ex", "disas \(hex(main)) 2"])
        XCTAssertEqual(run.status, 0, run.stdout)
        XCTAssertTrue(run.loaded.contains("libcapstone.so.4"), "\(run.loaded)")
        XCTAssertFalse(run.loaded.contains("libreadline.so.8"), "\(run.loaded)")
        // Two instructions, the first at the address the target printed for main.
        let lines = run.stdout.split(separator: "\n").filter { $0.hasPrefix("   0x") || $0.hasPrefix("=> 0x") }
        XCTAssertEqual(lines.count, 2, run.stdout)
        XCTAssertTrue(lines.first?.contains(hex(main)) == true, run.stdout)
    }

    func testBacktraceLoadsLibdwForSourceLinesButNotCapstone() throws {
        let program = try TestTarget("recurse", ["3"])
        defer { program.terminate() }
        let run = try runTraced(["--pid", "\(program.pid)", "--batch", "-ex", "bt"])
        XCTAssertEqual(run.status, 0, run.stdout)
        XCTAssertTrue(run.loaded.contains("libdw.so.1"), "\(run.loaded)")
        XCTAssertFalse(run.loaded.contains("libcapstone.so.4"), "\(run.loaded)")
        XCTAssertTrue(run.stdout.contains("recurse.c:"), "file:line through the lazily loaded libdw: \(run.stdout)")
    }

    /// File:line tables prepared before an attach serve only the process
    /// they were made for: another process's walk gets its own.
    func testSourceLinesPreparedForAnotherProcessAreNotUsed() throws {
        let other = try TestTarget("recurse-O2", ["2"])
        defer { other.terminate() }
        let program = try TestTarget("recurse", ["3"])
        defer { program.terminate() }
        Unwinder.prepareSourceLines(pid: other.pid)
        let target = try Target.attach(pid: program.pid)
        defer { try? target.detach() }
        let unwinder = try target.unwinder()
        let frames = try unwinder.backtrace().frames
        XCTAssertGreaterThan(frames.count, 4)
        // Frame 1 is recurse() in recurse.c (recurse-O2 is built from recurse.c
        // too, but at other addresses: its tables would find nothing here).
        let location = unwinder.sourceLocation(of: frames[1].lookupAddress)
        XCTAssertTrue(location?.file.hasSuffix("recurse.c") == true, "\(String(describing: location))")
        XCTAssertGreaterThan(location?.line ?? 0, 0)
    }

    func testAMissingLibraryIsOneSentenceAndIsNotRetried() {
        let library = LazyLibrary(soname: "libvmscope-absent.so.0", purpose: "this test")
        for _ in 0..<2 {
            XCTAssertThrowsError(try library.open()) { error in
                XCTAssertEqual(error as? VMScopeError, .libraryUnavailable(soname: "libvmscope-absent.so.0", purpose: "this test"))
                XCTAssertEqual(sentence(for: error),
                               "vmscope cannot load libvmscope-absent.so.0, which this test needs; install it (./scripts/install-deps.sh).")
            }
        }
        let libc = LazyLibrary(soname: "libc.so.6", purpose: "this test")
        XCTAssertThrowsError(try libc.function("vmscope_no_such_function", as: (@convention(c) () -> Void).self))
        let getpidFunction = try? libc.function("getpid", as: (@convention(c) () -> Int32).self)
        XCTAssertEqual(getpidFunction?(), getpid())
    }
}
