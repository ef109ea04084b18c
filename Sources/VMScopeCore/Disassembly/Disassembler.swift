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

/// Capstone, opened on the first decode: libcapstone.so.4 is loaded with
/// dlopen then (see LazyLibrary), not at every start of vmscope.
/// Decoding stops at the first invalid byte.
public final class Disassembler {
    /// Capstone's functions, resolved once per process.
    private struct Capstone {
        typealias Open = @convention(c) (cs_arch, cs_mode, UnsafeMutablePointer<csh>?) -> cs_err
        typealias Close = @convention(c) (UnsafeMutablePointer<csh>?) -> cs_err
        typealias Disasm = @convention(c) (csh, UnsafePointer<UInt8>?, Int, UInt64, Int,
                                           UnsafeMutablePointer<UnsafeMutablePointer<cs_insn>?>?) -> Int
        typealias Free = @convention(c) (UnsafeMutablePointer<cs_insn>?, Int) -> Void
        let open: Open, close: Close, disasm: Disasm, free: Free
    }

    private static let library = LazyLibrary(soname: "libcapstone.so.4", purpose: "disassembly")
    private var capstone: Capstone?
    private var handle: csh = 0

    public init() {}

    deinit { if let capstone { _ = capstone.close(&handle) } }

    /// Opens Capstone the first time; throws when the library is missing.
    private func opened() throws -> Capstone {
        if let capstone { return capstone }
        let library = Disassembler.library
        let loaded = Capstone(open: try library.function("cs_open", as: Capstone.Open.self),
                              close: try library.function("cs_close", as: Capstone.Close.self),
                              disasm: try library.function("cs_disasm", as: Capstone.Disasm.self),
                              free: try library.function("cs_free", as: Capstone.Free.self))
        guard loaded.open(CS_ARCH_X86, CS_MODE_64, &handle) == CS_ERR_OK else {
            throw VMScopeError.libraryUnavailable(soname: library.soname, purpose: library.purpose)
        }
        capstone = loaded
        return loaded
    }

    /// Decodes up to `count` instructions from `bytes`, which start at
    /// `address`. Throws only when Capstone cannot be loaded.
    public func decode(_ bytes: [UInt8], at address: UInt64, count: Int) throws -> [Instruction] {
        guard !bytes.isEmpty, count > 0 else { return [] }
        let capstone = try opened()
        var decoded: UnsafeMutablePointer<cs_insn>?
        let n = bytes.withUnsafeBufferPointer { buffer in
            capstone.disasm(handle, buffer.baseAddress, buffer.count, address, count, &decoded)
        }
        guard n > 0, let decoded else { return [] }
        defer { capstone.free(decoded, n) }
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
        return try disassembler.decode(read.bytes, at: address, count: count)
    }
}
