import Glibc

/// One stop's view of a traced process's whole address space: every
/// mapping classified, every thread's stack, the heap's limits, the
/// executable and libraries, and the facts (paging mode, ASLR,
/// mmap_min_addr) that explain where each of them lies. Every number is
/// read from the live process or the running kernel.
public struct AddressSpace {
    public let pid: Int32
    public let geometry: AddressGeometry
    public let aslr: ASLRState
    public let maps: [Mapping]
    public let regions: [Region]
    public let auxv: AuxiliaryVector
    public let stat: ProcFS.Stat?
    /// brk(0) in the target; nil when it was not asked for or failed.
    public let programBreak: UInt64?
    public let threadStacks: [ThreadStack]
    /// Every thread's rip and rsp, by tid.
    public let threadRegisters: [Int32: (rip: UInt64, rsp: UInt64)]
    public let executablePath: String?
    /// The executable and libraries (file-backed objects), in address order.
    public let modules: [LoadedModule]
    public let linkMap: LinkMapList?
    /// argc, argv, envp and auxv at the top of the main stack.
    public let argumentBlock: ArgumentBlock?
    /// RLIMIT_STACK's soft limit (nil: unlimited or unreadable).
    public let stackLimit: UInt64?
    let moduleCache: ModuleCache?

    public var mmapMinAddr: UInt64 { aslr.mmapMinAddr ?? geometry.pageSize }
    public var startBrk: UInt64? { stat.map(\.startBrk).flatMap { $0 == 0 ? nil : $0 } }
    /// Where argc sat at exec: the bottom of the argv/envp/auxv block.
    public var startStack: UInt64? { stat.map(\.startStack).flatMap { $0 == 0 ? nil : $0 } }
    public var executable: LoadedModule? { modules.first { $0.path == executablePath } }
    public var libraries: [LoadedModule] { modules.filter { $0.path != executablePath } }
    public var mainStack: Mapping? { maps.first { $0.path == "[stack]" } }
    public var heapMapping: Mapping? { maps.first { $0.path == "[heap]" } }

    /// Reads everything. `programBreak` is passed in (injecting brk(0) is the
    /// caller's choice, see ProgramBreakCache); `modules` adds ELF section
    /// names and symbols; `linkMap` walks the dynamic linker's list.
    public static func capture(target: Target, programBreak: UInt64?, modules cache: ModuleCache?,
                               linkMap: Bool = true) throws -> AddressSpace {
        let maps = try target.maps()
        var registers: [Int32: (rip: UInt64, rsp: UInt64)] = [:]
        for tid in target.threadIDs {
            if let regs = try? target.registers(tid: tid) { registers[tid] = (regs.rip, regs.rsp) }
        }
        let executable = ProcFS.executablePath(pid: target.pid)
        var regions = RegionClassifier.classify(maps, executable: executable,
                                                threadRSP: registers.mapValues(\.rsp), pid: target.pid)
        let auxv = (try? AuxiliaryVector.read(pid: target.pid)) ?? AuxiliaryVector(entries: [])
        let modules = cache?.modules(pid: target.pid, maps: maps) ?? []
        if let cache { nameSections(&regions, modules: modules, cache: cache) }
        let stacks = threadStacks(regions: regions, registers: registers, pid: target.pid)
        let stat = ProcFS.stat(pid: target.pid)
        return AddressSpace(
            pid: target.pid, geometry: AddressGeometry.current(), aslr: ASLRState.read(target: target, maps: maps),
            maps: maps, regions: regions, auxv: auxv, stat: stat,
            programBreak: programBreak, threadStacks: stacks, threadRegisters: registers,
            executablePath: executable, modules: modules,
            linkMap: linkMap ? LinkMapList.read(target: target, auxv: auxv) : nil,
            argumentBlock: stat.flatMap { ArgumentBlock.read(target: target, stat: $0) },
            stackLimit: readStackLimit(pid: target.pid), moduleCache: cache)
    }

    /// Which ELF sections each mapping of an object holds (link-time ranges).
    static func nameSections(_ regions: inout [Region], modules: [LoadedModule], cache: ModuleCache) {
        for i in regions.indices {
            let m = regions[i].mapping
            guard [.code, .rodata, .data, .bss, .library, .guardPage].contains(regions[i].kind),
                  let module = modules.first(where: { baseName($0.path) == regions[i].owner && $0.start <= m.start }),
                  let elf = cache.elf(for: module) else { continue }
            let low = module.linkTimeAddress(m.start), high = module.linkTimeAddress(m.end)
            guard low < high else { continue }
            regions[i].sections = elf.sections(overlapping: low..<high).map(\.name)
        }
    }

    static func threadStacks(regions: [Region], registers: [Int32: (rip: UInt64, rsp: UInt64)], pid: Int32) -> [ThreadStack] {
        registers.keys.sorted().map { tid in
            let rsp = registers[tid]?.rsp ?? 0
            let index = regions.firstIndex { $0.mapping.contains(rsp) }
            var guardMapping: Mapping?
            if let index, index > 0, regions[index - 1].kind == .guardPage,
               regions[index - 1].mapping.end == regions[index].mapping.start {
                guardMapping = regions[index - 1].mapping
            }
            return ThreadStack(tid: tid, isMain: tid == pid, rsp: rsp, mapping: index.map { regions[$0].mapping },
                               guardMapping: guardMapping)
        }
    }

    /// "Max stack size  8388608  unlimited  bytes" in /proc/PID/limits.
    static func readStackLimit(pid: Int32) -> UInt64? {
        guard let text = readTextFile("/proc/\(pid)/limits") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("Max stack size") {
            let words = line.dropFirst("Max stack size".count).split(separator: " ")
            return words.first.flatMap { UInt64($0) }
        }
        return nil
    }

    public func region(containing address: UInt64) -> Region? {
        guard let m = maps.mapping(containing: address) else { return nil }
        return regions.first { $0.mapping.start == m.start }
    }

    public func symbolize(_ address: UInt64) -> Symbolized? {
        moduleCache?.symbolize(address, modules: modules)
    }
}
