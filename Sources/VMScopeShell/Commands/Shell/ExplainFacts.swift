import VMScopeCore

/// What `explain` reads from the live process, once per call. Every field
/// is optional: without a process (or if a read fails) the texts still
/// teach, just without this process's numbers.
struct ExplainFacts {
    var pid: Int32?
    var maps: [Mapping] = []
    var rsp: UInt64?
    var threadStackPointers: [Int32: UInt64] = [:]
    var stat: ProcFS.Stat?
    var aslr: ASLRState?
    var geometry = AddressGeometry.current()
    var executable: String?
    /// RLIMIT_STACK's soft limit from /proc/PID/limits (nil: unlimited or unreadable).
    var stackLimit: UInt64?
    /// The executable's .data and .bss at their run-time addresses (from its section headers).
    var data: (start: UInt64, end: UInt64)?
    var bss: (start: UInt64, end: UInt64)?

    init(session: Session) {
        guard let target = session.target, target.isAttached else { return }
        pid = target.pid
        maps = (try? target.maps()) ?? []
        if let tid = try? session.currentThread() { rsp = try? target.registers(tid: tid).rsp }
        for tid in target.threadIDs { threadStackPointers[tid] = try? target.registers(tid: tid).rsp }
        stat = ProcFS.stat(pid: target.pid)
        aslr = ASLRState.read(target: target, maps: maps)
        if let aslr { geometry = aslr.geometry }
        executable = ProcFS.executablePath(pid: target.pid)
        stackLimit = Self.softStackLimit(pid: target.pid)
        if let executable,
           let module = session.modules.modules(pid: target.pid, maps: maps).first(where: { $0.path == executable }),
           let elf = session.modules.elf(for: module) {
            func runtime(_ name: String) -> (UInt64, UInt64)? {
                guard let section = elf.section(named: name), section.size > 0 else { return nil }
                let start = module.runtimeAddress(section.address)
                return (start, start &+ section.size)
            }
            data = runtime(".data")
            bss = runtime(".bss")
        }
    }

    var attached: Bool { pid != nil }

    func mapping(named path: String) -> Mapping? { maps.first { $0.path == path } }
    func mapping(containing address: UInt64) -> Mapping? { maps.first { $0.contains(address) } }
    var executableMappings: [Mapping] { maps.filter { $0.path == executable && executable != nil } }

    /// Inaccessible pages right below a thread's stack mapping.
    var guardPages: [(guardPage: Mapping, stack: Mapping, tid: Int32)] {
        var found: [(Mapping, Mapping, Int32)] = []
        for (tid, rsp) in threadStackPointers.sorted(by: { $0.key < $1.key }) {
            guard let stack = mapping(containing: rsp),
                  let below = maps.last(where: { $0.end == stack.start }), below.perms.hasPrefix("---") else { continue }
            found.append((below, stack, tid))
        }
        return found
    }

    /// "Max stack size  8388608  unlimited  bytes" -> 8388608.
    static func softStackLimit(pid: Int32) -> UInt64? {
        guard let text = readTextFile("/proc/\(pid)/limits") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("Max stack size") {
            let words = line.dropFirst("Max stack size".count).split(separator: " ")
            return words.first.flatMap { UInt64($0) }
        }
        return nil
    }
}
