import CCapstone

/// One decoded x86-64 instruction (Intel syntax, as the model's article
/// and most teaching material write it).
public struct Instruction: Sendable, Equatable {
    public let address: UInt64
    public let bytes: [UInt8]
    public let mnemonic: String
    public let operands: String
    public var length: Int { bytes.count }
    public var isCall: Bool { mnemonic.hasPrefix("call") }
    public var isReturn: Bool { mnemonic.hasPrefix("ret") }
    /// The target of a direct call or jump (`call 0x401136`).
    public var directTarget: UInt64? {
        guard mnemonic.hasPrefix("call") || mnemonic.hasPrefix("j"), operands.hasPrefix("0x") else { return nil }
        return UInt64(operands.dropFirst(2), radix: 16)
    }
}

/// Capstone, opened once. Decoding stops at the first invalid byte.
public final class Disassembler {
    private var handle: csh = 0
    private let opened: Bool

    public init() {
        opened = cs_open(CS_ARCH_X86, CS_MODE_64, &handle) == CS_ERR_OK
    }

    deinit { if opened { cs_close(&handle) } }

    /// Decodes up to `count` instructions from `bytes`, which start at `address`.
    public func decode(_ bytes: [UInt8], at address: UInt64, count: Int) -> [Instruction] {
        guard opened, !bytes.isEmpty, count > 0 else { return [] }
        var decoded: UnsafeMutablePointer<cs_insn>?
        let n = bytes.withUnsafeBufferPointer { buffer in
            cs_disasm(handle, buffer.baseAddress, buffer.count, address, count, &decoded)
        }
        guard n > 0, let decoded else { return [] }
        defer { cs_free(decoded, n) }
        return (0..<n).map { index in
            var insn = decoded[index]
            let size = Int(insn.size)
            let raw = withUnsafeBytes(of: &insn.bytes) { Array($0.prefix(size)) }
            let mnemonic = withUnsafeBytes(of: &insn.mnemonic) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            let operands = withUnsafeBytes(of: &insn.op_str) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            return Instruction(address: insn.address, bytes: raw, mnemonic: mnemonic, operands: operands)
        }
    }
}

extension Target {
    /// Decodes `count` instructions at `address` from the live memory
    /// (which never holds our int3 bytes while the target is stopped).
    public func instructions(at address: UInt64, count: Int, using disassembler: Disassembler) throws -> [Instruction] {
        let read = try read(address, count: max(1, count) * 15)
        if read.bytes.isEmpty { throw VMScopeError.unmapped(address: address) }
        return disassembler.decode(read.bytes, at: address, count: count)
    }
}
