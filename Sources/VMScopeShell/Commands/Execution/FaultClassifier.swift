import VMScopeCore

/// Says in words where a faulting address lies, for a SIGSEGV/SIGBUS stop.
enum FaultClassifier {
    /// How far below the stack a fault still counts as the stack running
    /// into its guard gap (the kernel's stack_guard_gap is 256 pages).
    static let guardGap: UInt64 = 256 * 4096

    static func explain(_ address: UInt64, maps: [Mapping], sp: UInt64?) -> String {
        if address < 4096 {
            return "a null pointer dereference (page 0 is never mapped; vm.mmap_min_addr keeps it so)"
        }
        if let stack = maps.first(where: { $0.path == "[stack]" }), address < stack.start,
           stack.start - address <= guardGap {
            let below = stack.start - address
            return "\(below) bytes below the lowest stack page \(hex(stack.start)), in the stack guard gap: stack overflow"
        }
        if let mapping = maps.mapping(containing: address) {
            let name = mapping.path.isEmpty ? "anonymous memory" : sanitized(mapping.path)
            return "inside \(name) (\(mapping.perms)), which does not allow this access"
        }
        if address >= 0x0000_8000_0000_0000 && address < 0xffff_8000_0000_0000 {
            return "a non-canonical address (bits 48-63 must copy bit 47)"
        }
        if address >= 0xffff_8000_0000_0000 { return "in the kernel half of the address space" }
        if let sp, address < sp, sp - address <= guardGap {
            return "\(sp - address) bytes below rsp, in unmapped memory: probably a stack overflow"
        }
        return "in no mapping (unmapped memory)"
    }
}
