import CVMScopeShims

/// The general registers of one thread (the kernel's user_regs_struct),
/// addressable by name through one table.
public struct Registers: Sendable {
    public var raw: user_regs_struct

    public init(raw: user_regs_struct) { self.raw = raw }

    public var rip: UInt64 { raw.rip }
    public var rsp: UInt64 { raw.rsp }
    public var rbp: UInt64 { raw.rbp }
    public var rflags: UInt64 { raw.eflags }

    /// One row of the register table: a 64-bit slot, and for sub-registers
    /// (eax, ax, al, ah) the width in bits and the shift inside it.
    public struct Field: Sendable {
        public let name: String
        /// Index of the 64-bit word in user_regs_struct.
        let slot: Int
        let bits: Int
        let shift: Int
        /// Shown by `regs` (sub-registers and orig_rax are only read by name).
        public let isMain: Bool
    }

    /// The kernel's order of user_regs_struct (arch/x86/include/asm/user_64.h).
    private static let kernelOrder = ["r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8",
                                      "rax", "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "rflags",
                                      "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs"]
    /// Display order, with each name's slot in the kernel's struct.
    private static let slots: [(String, Int)] = [
        "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13",
        "r14", "r15", "rip", "rflags", "cs", "ss", "ds", "es", "fs", "gs", "fs_base", "gs_base", "orig_rax",
    ].map { name in (name, kernelOrder.firstIndex(of: name)!) }

    private static func slot(_ name: String) -> Int { kernelOrder.firstIndex(of: name)! }

    /// Every register name vmscope understands, main ones first in display order.
    public static let fields: [Field] = {
        var table: [Field] = slots.map {
            Field(name: $0.0, slot: $0.1, bits: 64, shift: 0, isMain: $0.0 != "orig_rax")
        }
        table.append(Field(name: "eflags", slot: slot("rflags"), bits: 64, shift: 0, isMain: false))
        // The classic registers' 32/16/8-bit views.
        for (long, short) in [("rax", "a"), ("rbx", "b"), ("rcx", "c"), ("rdx", "d")] {
            let slot = slot(long)
            table += [Field(name: "e\(short)x", slot: slot, bits: 32, shift: 0, isMain: false),
                      Field(name: "\(short)x", slot: slot, bits: 16, shift: 0, isMain: false),
                      Field(name: "\(short)l", slot: slot, bits: 8, shift: 0, isMain: false),
                      Field(name: "\(short)h", slot: slot, bits: 8, shift: 8, isMain: false)]
        }
        for (long, short) in [("rsi", "si"), ("rdi", "di"), ("rbp", "bp"), ("rsp", "sp")] {
            let slot = slot(long)
            table += [Field(name: "e\(short)", slot: slot, bits: 32, shift: 0, isMain: false),
                      Field(name: short, slot: slot, bits: 16, shift: 0, isMain: false),
                      Field(name: "\(short)l", slot: slot, bits: 8, shift: 0, isMain: false)]
        }
        for n in 8...15 {
            let slot = slot("r\(n)")
            table += [Field(name: "r\(n)d", slot: slot, bits: 32, shift: 0, isMain: false),
                      Field(name: "r\(n)w", slot: slot, bits: 16, shift: 0, isMain: false),
                      Field(name: "r\(n)b", slot: slot, bits: 8, shift: 0, isMain: false)]
        }
        table.append(Field(name: "pc", slot: slot("rip"), bits: 64, shift: 0, isMain: false))
        table.append(Field(name: "sp", slot: slot("rsp"), bits: 64, shift: 0, isMain: false))
        return table
    }()

    private static let byName: [String: Field] = {
        var map: [String: Field] = [:]
        for field in fields where map[field.name] == nil { map[field.name] = field }
        return map
    }()

    public static var mainNames: [String] { fields.filter(\.isMain).map(\.name) }
    public static var allNames: [String] { fields.map(\.name) }

    public static func field(named name: String) -> Field? { byName[name.lowercased()] }

    private static func mask(_ bits: Int) -> UInt64 { bits == 64 ? ~0 : (1 << UInt64(bits)) - 1 }

    private func word(_ slot: Int) -> UInt64 {
        withUnsafeBytes(of: raw) { $0.load(fromByteOffset: slot * 8, as: UInt64.self) }
    }

    private mutating func setWord(_ slot: Int, _ value: UInt64) {
        withUnsafeMutableBytes(of: &raw) { $0.storeBytes(of: value, toByteOffset: slot * 8, as: UInt64.self) }
    }

    public func value(_ field: Field) -> UInt64 {
        (word(field.slot) >> UInt64(field.shift)) & Self.mask(field.bits)
    }

    public func value(named name: String) throws -> UInt64 {
        guard let field = Self.field(named: name) else { throw VMScopeError.unknownRegister(name: name) }
        return value(field)
    }

    /// Sets a register; a sub-register keeps the other bits of its slot
    /// (as the CPU does for 8/16-bit writes; vmscope does the same for 32).
    public mutating func set(_ name: String, to newValue: UInt64) throws {
        guard let field = Self.field(named: name) else { throw VMScopeError.unknownRegister(name: name) }
        let mask = Self.mask(field.bits) << UInt64(field.shift)
        let old = word(field.slot)
        setWord(field.slot, (old & ~mask) | ((newValue << UInt64(field.shift)) & mask))
    }

    /// The rflags bits that are set, by their usual names.
    public static func flagNames(_ rflags: UInt64) -> [String] {
        let bits: [(Int, String)] = [(0, "CF"), (2, "PF"), (4, "AF"), (6, "ZF"), (7, "SF"), (8, "TF"),
                                     (9, "IF"), (10, "DF"), (11, "OF"), (14, "NT"), (16, "RF"),
                                     (17, "VM"), (18, "AC"), (21, "ID")]
        return bits.filter { rflags & (1 << UInt64($0.0)) != 0 }.map(\.1)
    }
}
