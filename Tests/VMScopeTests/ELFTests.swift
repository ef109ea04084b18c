import Foundation
import XCTest
@testable import VMScopeCore

/// ELFFile against the real test binaries and libc, and against damaged
/// copies (which must never trap).
final class ELFTests: XCTestCase {
    func testRecurseBinariesParse() throws {
        let pie = try ELFFile(path: TestTarget.path("recurse"))
        let noPIE = try ELFFile(path: TestTarget.path("recurse-nopie"))
        XCTAssertEqual(pie.type, ELFConstants.etDyn)
        XCTAssertTrue(pie.isPositionIndependent)
        XCTAssertEqual(noPIE.type, ELFConstants.etExec)
        XCTAssertFalse(noPIE.isPositionIndependent)
        XCTAssertEqual(pie.interpreter, noPIE.interpreter)
        XCTAssertTrue(pie.interpreter?.hasSuffix("ld-linux-x86-64.so.2") ?? false, "\(pie.interpreter ?? "nil")")
        XCTAssertEqual(pie.buildID?.count, 20)
        // The non-PIE text segment is linked at 0x401000, and its entry is in it.
        let text = try XCTUnwrap(noPIE.programHeaders.first { $0.isLoad && $0.isExecutable })
        XCTAssertEqual(text.virtualAddress, 0x401000)
        XCTAssertTrue(noPIE.entry >= text.virtualAddress && noPIE.entry < text.virtualAddress + text.memorySize)
        XCTAssertEqual(noPIE.section(named: ".text").map { noPIE.entry >= $0.address && noPIE.entry < $0.address + $0.size }, true)
        for file in [pie, noPIE] {
            for name in ["recurse", "main"] {
                let symbol = try XCTUnwrap(file.symbols.symbol(named: name), "\(name) in \(file.path)")
                XCTAssertTrue(symbol.isFunction)
                XCTAssertGreaterThan(symbol.size, 0)
                let found = try XCTUnwrap(file.symbols.symbol(containing: symbol.value + symbol.size - 1))
                XCTAssertEqual(found.symbol.name, name)
                XCTAssertEqual(found.offset, symbol.size - 1)
                XCTAssertEqual(file.sections(overlapping: symbol.value..<symbol.value + 1).first?.name, ".text")
            }
            XCTAssertEqual(file.symbols.symbol(named: "test_string")?.isObject, true)
            XCTAssertEqual(file.symbols.symbol(named: "test_string")?.isLocal, true)
        }
        // The same image from memory parses the same way.
        let copy = try ELFFile(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: pie.path))), name: "copy")
        XCTAssertEqual(copy.sections, pie.sections)
        XCTAssertEqual(copy.programHeaders, pie.programHeaders)
        XCTAssertEqual(copy.symbols.count, pie.symbols.count)
    }

    func testNotELFThrows() throws {
        XCTAssertThrowsError(try ELFFile(path: "/proc/self/status")) { error in
            guard case VMScopeError.malformedELF = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try ELFFile(path: "/nonexistent/file")) { error in
            XCTAssertEqual(error as? VMScopeError, .system(operation: "open /nonexistent/file", errno: ENOENT))
        }
        XCTAssertThrowsError(try ELFFile(bytes: Array("#!/bin/sh\n".utf8) + [UInt8](repeating: 0, count: 100), name: "script"))
    }

    /// Truncated copies and copies with a scrambled section header table or
    /// absurd header fields: init throws malformedELF or yields a file with
    /// fewer parts; nothing traps.
    func testDamagedCopiesNeverTrap() throws {
        let original = try Array(Data(contentsOf: URL(fileURLWithPath: TestTarget.path("recurse"))))
        let good = try ELFFile(bytes: original, name: "good")
        let directory = NSTemporaryDirectory() + "vmscope-elf-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/damaged"

        func exercise(_ bytes: [UInt8], _ label: String) {
            XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
            do {
                let file = try ELFFile(path: path)
                XCTAssertLessThanOrEqual(file.sections.count, 65536, label)
                _ = file.interpreter
                _ = file.buildID
                _ = file.isPositionIndependent
                let table = file.symbols
                _ = table.symbol(containing: file.entry)
                _ = table.symbol(named: "main")
                _ = file.sections(overlapping: 0..<UInt64.max)
            } catch let error as VMScopeError {
                guard case .malformedELF = error else { return XCTFail("\(label): \(error)") }
            } catch {
                XCTFail("\(label): \(error)")
            }
        }

        for size in [0, 4, 63, 64, 65, 200, 1000, 4096, original.count / 2, original.count - 200, original.count - 1] {
            exercise(Array(original.prefix(size)), "truncated at \(size)")
        }
        let truncated = try ELFFile(bytes: Array(original.prefix(original.count - 200)), name: "truncated")
        XCTAssertEqual(truncated.programHeaders, good.programHeaders, "program headers survive losing the tail")
        XCTAssertTrue(truncated.sections.count < good.sections.count)

        let shoff = Int(original[40..<48].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        var generator = SeededGenerator(seed: 0x5eed)
        for round in 0..<40 {
            var bytes = original
            for _ in 0..<32 {
                let at = shoff + Int.random(in: 0..<(original.count - shoff), using: &generator)
                bytes[at] = UInt8.random(in: 0...255, using: &generator)
            }
            exercise(bytes, "scrambled section headers, round \(round)")
        }
        // Absurd header fields: offsets past the end, huge counts, overflow.
        for (offset, value) in [(32, UInt64.max - 8), (40, UInt64.max - 8), (40, UInt64(original.count - 10)),
                                (56, 0xffff), (60, 0xffff), (62, 0xfffe), (54, 0), (58, 0)] {
            var bytes = original
            let width = offset >= 52 ? 2 : 8
            for i in 0..<width { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
            exercise(bytes, "header field at \(offset) = \(value)")
        }
        // A damaged .gnu_debugdata costs its symbols only.
        var mini = try Array(Data(contentsOf: URL(fileURLWithPath: TestTarget.path("recurse-minidebug"))))
        let intact = try ELFFile(bytes: mini, name: "minidebug")
        XCTAssertNotNil(intact.symbols.symbol(named: "recurse"))
        let debugData = try XCTUnwrap(intact.section(named: ".gnu_debugdata"))
        for i in 0..<min(Int(debugData.size) - 40, 64) { mini[Int(debugData.offset) + 32 + i] ^= 0x5a }
        let damaged = try ELFFile(bytes: mini, name: "minidebug damaged")
        XCTAssertNil(damaged.symbols.symbol(named: "recurse"))
        XCTAssertNotNil(damaged.symbols.symbol(named: "stdout"), ".dynsym (a copy-relocated stdout) stays")
    }

    /// A section table claiming 60,000 symbol tables that all read the whole
    /// file through one string table: bounded work and memory, no trap.
    func testManyClaimedSymbolTablesStayBounded() throws {
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: TestTarget.path("recurse"))))
        let size = UInt64(bytes.count)
        func put(_ value: UInt64, _ width: Int, into array: inout [UInt8], at offset: Int) {
            for i in 0..<width { array[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
        }
        func header(type: UInt64, link: UInt64, entrySize: UInt64) -> [UInt8] {
            var h = [UInt8](repeating: 0, count: 64)
            put(type, 4, into: &h, at: 4)
            put(0, 8, into: &h, at: 24)        // offset
            put(size, 8, into: &h, at: 32)     // size: the whole file
            put(link, 4, into: &h, at: 40)
            put(entrySize, 8, into: &h, at: 56)
            return h
        }
        var table = [UInt8](repeating: 0, count: 64)
        table += header(type: 3, link: 0, entrySize: 0)
        for _ in 0..<60_000 { table += header(type: 2, link: 1, entrySize: 24) }
        put(size, 8, into: &bytes, at: 40)     // e_shoff
        put(60_002, 2, into: &bytes, at: 60)   // e_shnum
        put(0, 2, into: &bytes, at: 62)        // e_shstrndx
        bytes += table
        let started = Date()
        let file = try ELFFile(bytes: bytes, name: "many tables")
        XCTAssertEqual(file.sections.count, 60_002)
        _ = file.symbols.symbol(containing: file.entry)
        // Reading all 60,000 would copy the file 60,000 times (1 GB) and take seconds.
        XCTAssertLessThan(Date().timeIntervalSince(started), 2)
    }

    /// 50,000 distinct symbols at one address: built in bounded time.
    func testManySymbolsAtOneAddressStayFast() {
        let symbols = (0..<50_000).map { ELFSymbol(name: "s\($0)", value: 0x1000, size: 0, isFunction: true, isObject: false, isLocal: false) }
        let started = Date()
        let table = SymbolTable(symbols)
        XCTAssertEqual(table.count, 50_000)
        XCTAssertEqual(table.symbol(containing: 0x1000)?.symbol.value, 0x1000)
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "quadratic deduplication would take minutes")
    }

    func testDemangle() {
        XCTAssertEqual(demangle("_ZN3foo3barEv"), "foo::bar()")
        XCTAssertEqual(demangle("_ZNSt6vectorIiSaIiEE9push_backERKi"), "std::vector<int, std::allocator<int> >::push_back(int const&)")
        XCTAssertEqual(demangle("$s4main3fooyyF"), "main.foo() -> ()")
        XCTAssertEqual(demangle("$sSi"), "Swift.Int")
        XCTAssertEqual(demangle("main"), "main")
        XCTAssertEqual(demangle("_Znotmangled!"), "_Znotmangled!")
    }

    func libcPath() -> String? {
        for candidate in ["/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6"]
        where access(candidate, R_OK) == 0 { return candidate }
        return nil
    }
}

/// A tiny deterministic generator (splitmix64): the damage is the same on every run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
