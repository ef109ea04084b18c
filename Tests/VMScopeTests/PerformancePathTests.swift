import Foundation
import XCTest
@testable import VMScopeCore

/// The fast paths added for issue #7 (benchmarks) give exactly what the
/// slow ones gave: the radix sort behind symbol tables, reads into a
/// caller's buffer, and the byte-built hexdump of `x`.
final class PerformancePathTests: XCTestCase {
    func testRadixSortMatchesSort() {
        var generator = SystemRandomNumberGenerator()
        for count in [0, 1, 2, 63, 64, 65, 1000, 20_000] {
            // Few distinct high bytes (like link-time addresses) and duplicates.
            var keys = (0..<count).map { _ in
                UInt64.random(in: 0..<4096, using: &generator) << 30 | UInt64.random(in: 0..<1 << 20, using: &generator)
            }
            if count > 10 { keys[3] = keys[7] }
            var radix = keys
            SymbolTable.radixSort(&radix)
            XCTAssertEqual(radix, keys.sorted(), "count \(count)")
        }
        var wide: [UInt64] = [UInt64.max, 0, 1 << 63, 42, UInt64.max - 1] + (0..<100).map { UInt64($0) * 0x0101_0101_0101_0101 }
        let expected = wide.sorted()
        SymbolTable.radixSort(&wide)
        XCTAssertEqual(wide, expected)
    }

    func testSymbolTableKeepsTheBestOfEqualAddressesAndTheOrder() {
        var symbols: [ELFSymbol] = []
        // Shuffled, with a NOTYPE local label and a FUNC global at 0x2000.
        for i in (0..<500).reversed() {
            symbols.append(ELFSymbol(name: "f\(i)", value: 0x1000 + UInt64(i) * 0x100, size: 0x100,
                                     isFunction: true, isObject: false, isLocal: false))
        }
        symbols.append(ELFSymbol(name: "label", value: 0x2000, size: 0, isFunction: false, isObject: false, isLocal: true))
        symbols.shuffle()
        let table = SymbolTable(symbols)
        XCTAssertEqual(table.symbol(containing: 0x2000)?.symbol.name, "f16")
        XCTAssertEqual(table.symbol(containing: 0x1000 + 499 * 0x100 + 0xff)?.symbol.name, "f499")
        XCTAssertEqual(table.symbol(containing: 0x1000 + 0x100 * 7 + 3)?.offset, 3)
        XCTAssertNil(table.symbol(containing: 0xfff))
        // Values too large for the packed keys take the closure sort.
        let high = SymbolTable([
            ELFSymbol(name: "top", value: UInt64.max - 0x100, size: 0x10, isFunction: true, isObject: false, isLocal: false),
            ELFSymbol(name: "low", value: 0x10, size: 0x10, isFunction: true, isObject: false, isLocal: false),
        ])
        XCTAssertEqual(high.symbol(containing: UInt64.max - 0xf8)?.symbol.name, "top")
        XCTAssertEqual(high.symbol(containing: 0x18)?.symbol.name, "low")
    }

    func testByteMapsParserAgreesWithTheLineParser() throws {
        let program = try TestTarget("threads", ["3"])
        var texts = [String(decoding: try readWholeFile("/proc/\(program.pid)/maps"), as: UTF8.self),
                     String(decoding: try readWholeFile("/proc/self/maps"), as: UTF8.self)]
        texts.append("""
            7f00-7f10 rw-p 00000000 00:00 0
            55aa0000-55aa1000 r-xp 00001000 fe:01 1234                       /tmp/a path with  spaces (deleted)
            not a line
            10-20 rwxp 0 00:00 99999999999999999999999 /overflow
            ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
            1000-2000 r--p zz 00:00 0 /bad-offset
            1000-2000 r--pp 0 00:00 0 /bad-perms

            """)
        for text in texts {
            let expected = text.split(separator: "\n", omittingEmptySubsequences: true).compactMap(MapsParser.parseLine)
            XCTAssertEqual(MapsParser.parse(text), expected)
            XCTAssertFalse(expected.isEmpty)
        }
        XCTAssertEqual(MapsParser.parse(texts[2]).map(\.path), ["", "/tmp/a path with  spaces (deleted)", "[vsyscall]"])
    }

    /// vmscope's sigprocmask (walk_sigmask.c) skips libunwind's system calls
    /// during a walk only: the thread's mask is the same after a walk, and
    /// outside one the calls block and report signals as libc's do.
    func testWalksLeaveTheSignalMaskAloneAndSigprocmaskStillWorks() throws {
        let program = try TestTarget("recurse", ["50"])
        var original = sigset_t()
        XCTAssertEqual(sigprocmask(SIG_SETMASK, nil, &original), 0)
        defer { sigprocmask(SIG_SETMASK, &original, nil) }
        var usr2 = sigset_t()
        sigemptyset(&usr2)
        sigaddset(&usr2, SIGUSR2)
        XCTAssertEqual(sigprocmask(SIG_BLOCK, &usr2, nil), 0)
        var before = sigset_t()
        XCTAssertEqual(sigprocmask(SIG_SETMASK, nil, &before), 0)
        XCTAssertEqual(sigismember(&before, SIGUSR2), 1)

        let target = try Target.attach(pid: program.pid)
        defer { try? target.detach() }
        let walk = try target.unwinder().backtrace()
        XCTAssertGreaterThanOrEqual(walk.frames.count, 50)
        XCTAssertEqual(walk.stop, .end)

        var after = sigset_t()
        XCTAssertEqual(sigprocmask(SIG_SETMASK, nil, &after), 0)
        XCTAssertEqual(sigismember(&after, SIGUSR2), 1)
        XCTAssertEqual(sigismember(&after, SIGUSR1), sigismember(&before, SIGUSR1))
        XCTAssertEqual(sigprocmask(SIG_UNBLOCK, &usr2, nil), 0)
        XCTAssertEqual(sigprocmask(SIG_SETMASK, nil, &after), 0)
        XCTAssertEqual(sigismember(&after, SIGUSR2), 0)
        XCTAssertEqual(sigprocmask(12345, &usr2, nil), -1)
        XCTAssertEqual(errno, EINVAL)
    }

    /// Tables read back from the on-disk cache equal freshly built ones,
    /// and a damaged cache file is ignored (the table is built again).
    func testSymbolTableCacheRoundTripsAndIgnoresDamage() throws {
        let directory = NSTemporaryDirectory() + "vmscope-symbols-\(getpid())"
        let saved = getenv("VMSCOPE_SYMBOL_CACHE").map { String(cString: $0) }
        defer {
            if let saved { setenv("VMSCOPE_SYMBOL_CACHE", saved, 1) } else { unsetenv("VMSCOPE_SYMBOL_CACHE") }
            try? FileManager.default.removeItem(atPath: directory)
        }
        // A small table is not worth a file.
        setenv("VMSCOPE_SYMBOL_CACHE", directory, 1)
        XCTAssertLessThan(try ELFFile(path: TestTarget.path("recurse")).symbols.count, SymbolTableCache.minimumEntries)
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: directory))?.count ?? 0, 0)
        // libc: stripped, its .symtab from libc6-dbg's debug file (part of the key).
        for path in ["/usr/lib/x86_64-linux-gnu/libc.so.6"] {
            setenv("VMSCOPE_SYMBOL_CACHE", "off", 1)
            let reference = try ELFFile(path: path).symbols
            XCTAssertGreaterThan(reference.count, 10, path)
            setenv("VMSCOPE_SYMBOL_CACHE", directory, 1)
            _ = try ELFFile(path: path).symbols  // builds and writes
            let file = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: directory)
                .first { name in name.hasSuffix(".symbols")
                    && (try? Data(contentsOf: URL(fileURLWithPath: directory + "/" + name)))
                        .map { $0.range(of: Data(path.utf8)) != nil } == true })
            let cached = try ELFFile(path: path).symbols
            XCTAssertEqual(cached.all, reference.all, path)
            if let some = reference.all.first(where: { $0.isFunction && $0.size > 4 }) {
                XCTAssertEqual(cached.symbol(containing: some.value + 2)?.symbol, reference.symbol(containing: some.value + 2)?.symbol)
            }
            let good = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + file))
            var damaged: [Data] = [Data(), good.prefix(7), good.prefix(good.count - 1), good + Data([0])]
            for offset in [0, 9, good.count / 2, good.count - 3] {
                var copy = good
                copy[offset] ^= 0xff
                damaged.append(copy)
            }
            for bad in damaged {
                try bad.write(to: URL(fileURLWithPath: directory + "/" + file))
                XCTAssertEqual(try ELFFile(path: path).symbols.all, reference.all, "\(path), \(bad.count) bytes")
            }
        }
        // A name running past the names, and values out of order, are refused.
        let table = SymbolTable([
            ELFSymbol(name: "a", value: 0x10, size: 4, isFunction: true, isObject: false, isLocal: false),
            ELFSymbol(name: "b", value: 0x20, size: 4, isFunction: true, isObject: false, isLocal: false),
        ])
        var bytes = SymbolTableCache.encode(table, key: "k")
        XCTAssertEqual(SymbolTableCache.decode(bytes, key: "k")?.all, table.all)
        XCTAssertNil(SymbolTableCache.decode(bytes, key: "other"))
        let firstEntry = SymbolTableCache.magic.count + 4 + 1 + 24
        bytes[firstEntry + 16] = 0xff  // name start of entry 0 (the checksum sees it)
        XCTAssertNil(SymbolTableCache.decode(bytes, key: "k"))
        // With the checksum made to match, the structure checks still refuse it.
        func resealed(_ damage: (inout [UInt8]) -> Void) -> [UInt8] {
            var copy = SymbolTableCache.encode(table, key: "k")
            damage(&copy)
            let sum = copy.withUnsafeBytes { SymbolTableCache.checksum(UnsafeRawBufferPointer(rebasing: $0[firstEntry...])) }
            withUnsafeBytes(of: sum.littleEndian) { raw in for (i, byte) in raw.enumerated() { copy[firstEntry - 8 + i] = byte } }
            return copy
        }
        XCTAssertNotNil(SymbolTableCache.decode(resealed { _ in }, key: "k"))
        XCTAssertNil(SymbolTableCache.decode(resealed { $0[firstEntry + 16] = 0xff }, key: "k"))  // name past the names
        XCTAssertNil(SymbolTableCache.decode(resealed { $0[firstEntry] = 0x30 }, key: "k"))  // values out of order
        XCTAssertNil(SymbolTableCache.decode(resealed { $0[firstEntry + 22] = 0x80 }, key: "k"))  // unknown flags
    }

    /// bigheap fills its block with (offset * 31 + 7) & 0xff.
    private func pattern(_ offset: Int) -> UInt8 { UInt8((offset &* 31 &+ 7) & 0xff) }

    func testReadIntoABufferGetsTheHeapPatternAndStopsAtTheEndOfTheMapping() throws {
        let program = try TestTarget("bigheap", ["1"])
        let heap = try XCTUnwrap(program.address("heap"))
        let target = try Target.attach(pid: program.pid)
        defer { try? target.detach() }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        let whole = try target.read(heap, into: buffer)
        XCTAssertEqual(whole.count, 1 << 20)
        XCTAssertNil(whole.firstBadAddress)
        for offset in [0, 1, 4095, 4096, 500_000, (1 << 20) - 1] { XCTAssertEqual(buffer[offset], pattern(offset), "\(offset)") }

        // A readable mapping with a hole after it (malloc's block may touch
        // the next mapping).
        let maps = try target.maps()
        let mapping = try XCTUnwrap(zip(maps, maps.dropFirst()).first { pair in
            pair.0.isReadable && pair.1.start > pair.0.end && pair.0.end < 0x8000_0000_0000
        }?.0)
        let tail = try target.read(mapping.end - 16, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<64]))
        XCTAssertEqual(tail.count, 16)
        XCTAssertEqual(tail.firstBadAddress, mapping.end)
        XCTAssertEqual(try target.read(mapping.end - 16, count: 64).bytes.count, 16)
    }

    func testExamineDumpsTheHeapPatternLineByLine() throws {
        let program = try TestTarget("bigheap", ["1"])
        let heap = try XCTUnwrap(program.address("heap"))
        let run = try VMScope.run(["--pid", "\(program.pid)", "--batch", "--no-color", "-ex", "x \(hex(heap)) 21"])
        XCTAssertEqual(run.status, 0, run.stderr)
        func line(_ start: Int, _ count: Int) -> String {
            var text = "0x" + String(repeating: "0", count: 16 - String(heap + UInt64(start), radix: 16).count)
                + String(heap + UInt64(start), radix: 16) + " "
            var ascii = ""
            for i in 0..<count {
                let byte = pattern(start + i)
                text += (i == 8 ? "  " : " ") + (byte < 16 ? "0" : "") + String(byte, radix: 16)
                ascii += (0x20..<0x7f).contains(byte) ? String(UnicodeScalar(byte)) : "."
            }
            text += String(repeating: " ", count: (16 - count) * 3 + (count <= 8 ? 1 : 0)) + "  |" + ascii + "|"
            return text
        }
        let lines = run.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(Array(lines.suffix(2)), [line(0, 16), line(16, 5)], run.stdout)

        // A read running off the end of a mapping: the bytes that exist, then one sentence.
        let maps = MapsParser.parse(bytes: try readWholeFile("/proc/\(program.pid)/maps"))
        let edge = try XCTUnwrap(zip(maps, maps.dropFirst()).first { pair in
            pair.0.isReadable && pair.1.start > pair.0.end && pair.0.end < 0x8000_0000_0000
        }?.0.end)
        let cut = try VMScope.run(["--pid", "\(program.pid)", "--batch", "--no-color", "-ex", "x \(hex(edge - 16)) 64"])
        let cutLines = cut.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(cutLines.count, 3, cut.stdout)
        XCTAssertTrue(cutLines.dropLast().last?.hasPrefix("0x" + String(repeating: "0", count: 16 - String(edge - 16, radix: 16).count)
                                                         + String(edge - 16, radix: 16) + "  ") == true, cut.stdout)
        XCTAssertTrue(cutLines.last?.hasPrefix("Read 16 of 64 bytes: \(hex(edge)) cannot be read") == true, cut.stdout)

        let json = try VMScope.json(["--pid", "\(program.pid)", "--batch", "-ex", "x \(hex(heap)) 4"])
        let result = try XCTUnwrap(json.lines.last?["result"] as? [String: Any])
        XCTAssertEqual(result["bytes"] as? String, (0..<4).map { String(format: "%02x", pattern($0)) }.joined())
    }

    private func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
}
