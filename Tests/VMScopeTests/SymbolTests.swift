import Foundation
import XCTest
@testable import VMScopeCore

/// Modules and symbols of live processes, checked against the addresses
/// the test targets print about themselves.
final class SymbolTests: XCTestCase {
    private func hexFact(_ target: TestTarget, _ key: String) throws -> UInt64 {
        let text = try XCTUnwrap(target.fact(key), "target did not report \(key)")
        return try XCTUnwrap(UInt64(text.hasPrefix("0x") ? String(text.dropFirst(2)) : text, radix: 16))
    }

    func testNonPIEMainIsTheSymbolValue() throws {
        let target = try TestTarget("recurse-nopie", ["3"])
        defer { target.terminate() }
        let cache = ModuleCache()
        let modules = cache.modules(pid: target.pid, maps: try MapsParser.read(pid: target.pid))
        let executable = try XCTUnwrap(modules.first { $0.name == "recurse-nopie" })
        XCTAssertEqual(executable.loadBias, 0)
        let elf = try XCTUnwrap(cache.elf(for: executable))
        XCTAssertEqual(elf.symbols.symbol(named: "main")?.value, try hexFact(target, "main"))
        XCTAssertEqual(elf.symbols.symbol(named: "recurse")?.value, try hexFact(target, "recurse"))
        XCTAssertEqual(cache.address(ofSymbol: "main", modules: modules), try hexFact(target, "main"))
    }

    func testPIELoadBiasMatchesTheRunningProcess() throws {
        let target = try TestTarget("recurse", ["3"])
        defer { target.terminate() }
        let cache = ModuleCache()
        let modules = cache.modules(pid: target.pid, maps: try MapsParser.read(pid: target.pid))
        let executable = try XCTUnwrap(modules.first { $0.name == "recurse" })
        let elf = try XCTUnwrap(cache.elf(for: executable))
        let recurse = try XCTUnwrap(elf.symbols.symbol(named: "recurse"))
        let runtime = try hexFact(target, "recurse")
        XCTAssertNotEqual(executable.loadBias, 0)
        XCTAssertEqual(runtime &- recurse.value, executable.loadBias)
        XCTAssertEqual(executable.linkTimeAddress(runtime), recurse.value)
        XCTAssertEqual(cache.address(ofSymbol: "recurse:recurse", modules: modules), runtime)
        XCTAssertEqual(cache.address(ofSymbol: "main", modules: modules), try hexFact(target, "main"))
        let inside = try XCTUnwrap(cache.symbolize(runtime + 4, modules: modules))
        XCTAssertEqual(inside.function, "recurse")
        XCTAssertEqual(inside.offset, 4)
        XCTAssertEqual(inside.section, ".text")
        XCTAssertEqual(inside.module.name, "recurse")
        let string = try XCTUnwrap(cache.symbolize(try hexFact(target, "string") + 3, modules: modules))
        XCTAssertEqual(string.function, "test_string")
        XCTAssertEqual(string.section, ".data")
        // Every module found is one of the process's files, each once.
        XCTAssertEqual(Set(modules.map(\.path)).count, modules.count)
        XCTAssertTrue(modules.contains { $0.name.hasPrefix("ld-linux") })
    }

    /// __libc_start_call_main is static: only MiniDebugInfo or the separate
    /// debug file (libc6-dbg on Debian bookworm, whose libc has no
    /// .gnu_debugdata) names it.
    func testLibcStaticFunctionIsNamed() throws {
        let target = try TestTarget("recurse", ["2"])
        defer { target.terminate() }
        let cache = ModuleCache()
        let modules = cache.modules(pid: target.pid, maps: try MapsParser.read(pid: target.pid))
        let libc = try XCTUnwrap(modules.first { $0.name.hasPrefix("libc.so") })
        let elf = try XCTUnwrap(cache.elf(for: libc))
        XCTAssertTrue(elf.section(named: ".gnu_debugdata") != nil || elf.separateDebugFile() != nil,
                      "libc has neither MiniDebugInfo nor an installed debug file (apt-get install libc6-dbg)")
        XCTAssertNil(elf.readSymbols(types: [ELFConstants.shtDynsym, ELFConstants.shtSymtab])
            .first { $0.name == "__libc_start_call_main" }, "it should not be in the plain tables")
        let start = try XCTUnwrap(elf.symbols.symbol(named: "__libc_start_call_main"))
        XCTAssertTrue(start.isFunction && start.isLocal && start.size > 0)
        let runtime = libc.runtimeAddress(start.value) + start.size / 2
        let found = try XCTUnwrap(cache.symbolize(runtime, modules: modules))
        XCTAssertEqual(found.function, "__libc_start_call_main")
        XCTAssertEqual(found.offset, start.size / 2)
        XCTAssertEqual(found.module.path, libc.path)
        // An exported function resolves to the same place as dlsym does in a
        // process mapping the same libc (ASLR differs, the offset does not).
        let printf = try XCTUnwrap(cache.address(ofSymbol: "libc:printf", modules: modules))
        XCTAssertEqual(printf - libc.loadBias, elf.symbols.symbol(named: "printf")?.value)
    }

    /// A stripped executable whose function symbols live only in its
    /// xz-compressed .gnu_debugdata (TestTargets/Makefile builds it).
    func testMiniDebugInfoSymbols() throws {
        let target = try TestTarget("recurse-minidebug", ["2"])
        defer { target.terminate() }
        let cache = ModuleCache()
        let modules = cache.modules(pid: target.pid, maps: try MapsParser.read(pid: target.pid))
        let executable = try XCTUnwrap(modules.first { $0.name == "recurse-minidebug" })
        let elf = try XCTUnwrap(cache.elf(for: executable))
        XCTAssertNil(elf.section(named: ".symtab"))
        XCTAssertNotNil(elf.section(named: ".gnu_debugdata"))
        XCTAssertTrue(elf.readSymbols(types: [ELFConstants.shtSymtab, ELFConstants.shtDynsym]).allSatisfy { $0.name != "recurse" })
        let recurse = try XCTUnwrap(elf.symbols.symbol(named: "recurse"))
        XCTAssertEqual(executable.runtimeAddress(recurse.value), try hexFact(target, "recurse"))
        XCTAssertEqual(elf.symbols.symbol(named: "ignore_signal")?.isLocal, true)
        XCTAssertEqual(cache.symbolize(try hexFact(target, "main") + 1, modules: modules)?.function, "main")
    }

    func testVDSOFromProcessMemory() throws {
        let target = try TestTarget("recurse", ["2"])
        defer { target.terminate() }
        let fd = open("/proc/\(target.pid)/mem", O_RDONLY)
        guard fd >= 0 else { throw XCTSkip("cannot open /proc/PID/mem of a child here") }
        defer { close(fd) }
        let reader: (UInt64, Int) -> [UInt8]? = { address, count in
            var bytes = [UInt8](repeating: 0, count: count)
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(Int64(bitPattern: address))) }
            return n == count ? bytes : nil
        }
        let cache = ModuleCache()
        let modules = cache.modules(pid: target.pid, maps: try MapsParser.read(pid: target.pid), readMemory: reader)
        let vdso = try XCTUnwrap(modules.first { $0.path == "[vdso]" })
        let elf = try XCTUnwrap(cache.elf(for: vdso))
        let symbol = try XCTUnwrap(elf.symbols.symbol(named: "__vdso_clock_gettime"))
        let runtime = vdso.runtimeAddress(symbol.value)
        XCTAssertTrue(vdso.contains(runtime))
        XCTAssertEqual(cache.symbolize(runtime, modules: modules)?.function, "__vdso_clock_gettime")
        // Without a reader the vdso is skipped.
        XCTAssertNil(ModuleCache().modules(pid: target.pid, maps: try MapsParser.read(pid: target.pid))
            .first { $0.path == "[vdso]" })
    }

    /// libc's table (dynsym + MiniDebugInfo) builds in a few milliseconds.
    func testLibcTableBuildTime() throws {
        let candidates: [String] = ["/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6"]
        let path = try XCTUnwrap(candidates.first { access($0, R_OK) == 0 })
        var best = Double.infinity
        var count = 0
        for _ in 0..<5 {
            let started = Date()
            let file = try ELFFile(path: path)
            count = file.symbols.count
            best = min(best, Date().timeIntervalSince(started))
        }
        let lookups = Date()
        let file = try ELFFile(path: path)
        let table = file.symbols
        let text = try XCTUnwrap(file.section(named: ".text"))
        var hits = 0
        for i in 0..<UInt64(100_000) {
            let address = text.address + (i * 17) % text.size
            if table.symbol(containing: address) != nil { hits += 1 }
        }
        let perLookup = Date().timeIntervalSince(lookups) / 100_000
        print("libc symbol table: \(count) symbols, built in \(String(format: "%.2f", best * 1000)) ms (best of 5); lookup \(String(format: "%.0f", perLookup * 1e9)) ns; \(hits) hits")
        XCTAssertGreaterThan(count, 2000)
        XCTAssertGreaterThan(hits, 90_000)
    }
}
