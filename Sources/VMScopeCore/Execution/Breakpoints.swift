import CVMScopeShims
import Glibc

/// A software breakpoint: an int3 byte (0xCC) written over the first byte
/// of an instruction while the target runs.
public struct Breakpoint: Sendable, Equatable {
    public let id: Int
    public let address: UInt64
    public internal(set) var enabled = true
    /// Deleted after its first hit (`tbreak`).
    public let temporary: Bool
    public internal(set) var hits = 0
    /// What the user typed (a symbol, an address), for `info breakpoints`.
    public let location: String
}

/// The breakpoints the user set, plus the bytes currently replaced in memory.
///
/// The int3 bytes are in memory only while the target runs: they are
/// written just before it resumes and taken out at every stop. So `x`,
/// `telescope` and `disas` never see them, a stop never leaves them behind,
/// and the one window where they exist is covered by the emergency detach,
/// which gets a mirror of every byte replaced.
struct BreakpointTable {
    private(set) var all: [Breakpoint] = []
    private var nextID = 1
    /// Address -> the original byte, for every int3 now in memory.
    private(set) var inserted: [UInt64: UInt8] = [:]

    mutating func add(address: UInt64, temporary: Bool, location: String) -> Breakpoint {
        let breakpoint = Breakpoint(id: nextID, address: address, temporary: temporary, location: location)
        nextID += 1
        all.append(breakpoint)
        return breakpoint
    }

    mutating func remove(id: Int) -> Breakpoint? {
        guard let index = all.firstIndex(where: { $0.id == id }) else { return nil }
        return all.remove(at: index)
    }

    mutating func update(id: Int, _ change: (inout Breakpoint) -> Void) -> Breakpoint? {
        guard let index = all.firstIndex(where: { $0.id == id }) else { return nil }
        change(&all[index])
        return all[index]
    }

    /// Enabled breakpoints at `address` (several may share one address).
    func enabled(at address: UInt64) -> [Breakpoint] {
        all.filter { $0.enabled && $0.address == address }
    }

    var enabledAddresses: Set<UInt64> { Set(all.filter(\.enabled).map(\.address)) }

    mutating func noteInserted(_ address: UInt64, original: UInt8) { inserted[address] = original }
    mutating func noteRemoved(_ address: UInt64) { inserted[address] = nil }
    /// After exec the old memory is gone: nothing is left to restore.
    mutating func forgetMemory() { inserted = [:] }
    mutating func removeAll() { all = []; inserted = [:] }
}

extension Target {
    public var breakpoints: [Breakpoint] { breakpointTable.all }

    /// Sets a breakpoint; the address must be mapped and executable.
    @discardableResult
    public func addBreakpoint(at address: UInt64, temporary: Bool = false, location: String) throws -> Breakpoint {
        try ensureLive()
        guard let mapping = try maps().mapping(containing: address) else {
            throw VMScopeError.unmapped(address: address)
        }
        guard mapping.isExecutable else {
            throw VMScopeError.notExecutable(address: address)
        }
        return breakpointTable.add(address: address, temporary: temporary, location: location)
    }

    public func deleteBreakpoint(id: Int) throws -> Breakpoint {
        guard let removed = breakpointTable.remove(id: id) else { throw VMScopeError.noSuchBreakpoint(id: id) }
        return removed
    }

    public func setBreakpoint(id: Int, enabled: Bool) throws -> Breakpoint {
        guard let changed = breakpointTable.update(id: id, { $0.enabled = enabled }) else {
            throw VMScopeError.noSuchBreakpoint(id: id)
        }
        return changed
    }

    /// Writes int3 over every enabled breakpoint and every internal run-to
    /// point (`finish`, `nexti` over a call, `until`).
    func insertBreakpointBytes() throws {
        for address in stopAddresses.sorted() where breakpointTable.inserted[address] == nil {
            let read = memory.read(address, count: 1)
            guard let original = read.bytes.first else { throw VMScopeError.unmapped(address: address) }
            // The mirror learns the byte before memory changes, so an
            // emergency detach in between restores a byte that is already right.
            guard vms_emergency_add_breakpoint(address, original) == 0 else {
                throw VMScopeError.tooManyBreakpoints
            }
            do { try memory.write(address, bytes: [0xCC]) } catch {
                vms_emergency_remove_breakpoint(address)
                throw error
            }
            breakpointTable.noteInserted(address, original: original)
        }
    }

    /// Puts back every byte an int3 replaced. Errors are ignored on
    /// purpose: this runs on the way out, where the target may be gone.
    func removeAllBreakpointBytes() {
        for (address, original) in breakpointTable.inserted {
            try? memory.write(address, bytes: [original])
            vms_emergency_remove_breakpoint(address)
            breakpointTable.noteRemoved(address)
        }
    }

    /// A forked child got a copy of memory with our int3 bytes in it: put
    /// the original bytes back in its copy, then let it go. A vfork child
    /// shares the parent's memory, which is restored at the parent's stop.
    func releaseForkChild(_ child: Int32, vfork: Bool) {
        var status: Int32 = 0
        // The child's first stop (it is traced automatically) must be
        // collected before it can be detached.
        while waitpid(child, &status, VMS_WALL) < 0 && errno == EINTR {}
        if vms_wifstopped(status) == 0 { return }
        if vfork {
            // Shared memory: the child must not meet an int3 while it runs
            // untraced; the bytes come back at the next resume.
            removeAllBreakpointBytes()
        } else if !breakpointTable.inserted.isEmpty,
           case let fd = open("/proc/\(child)/mem", O_RDWR | O_CLOEXEC), fd >= 0 {
            for (address, original) in breakpointTable.inserted {
                var byte = original
                _ = pwrite(fd, &byte, 1, off_t(Int64(bitPattern: address)))
            }
            Glibc.close(fd)
        }
        _ = vms_ptrace_detach(child, 0)
        releasedChildren.append(child)
    }
}
