/// The text of `x`: 16 bytes a line, hex and ASCII, written byte by byte
/// straight into the String's storage (every line's length is known in
/// advance). Building it from Strings (one per byte) took about 2 s for
/// 8 MB; this takes tens of milliseconds, so dumping a large block is
/// limited by the terminal, not by vmscope.
enum HexDumpText {
    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Lines "0x<16 digits>  xx xx ... xx  xx ... xx  |ascii|", the address
    /// painted as `.address`; no trailing newline.
    static func lines(address: UInt64, bytes: [UInt8], style: Style) -> String {
        if bytes.isEmpty { return "" }
        let painted = style.paint("\u{0}", .address).split(separator: "\u{0}", omittingEmptySubsequences: false)
        let prefix = Array((painted.first ?? "").utf8)
        let suffix = Array((painted.count > 1 ? painted[1] : "").utf8)
        // A line: address (18), a space, 16 hex columns with their padding
        // (49 whatever the count), two spaces, |ascii| (count + 2).
        let fixed = prefix.count + suffix.count + 18 + 1 + 49 + 2 + 2
        let rows = (bytes.count + 15) / 16
        let total = rows * fixed + bytes.count + (rows - 1)
        return String(unsafeUninitializedCapacity: total) { out in
            var at = 0
            func put(_ byte: UInt8) { out[at] = byte; at += 1 }
            digits.withUnsafeBufferPointer { hex in
                bytes.withUnsafeBufferPointer { data in
                    var offset = 0
                    while offset < data.count {
                        if offset > 0 { put(10) }
                        let rowCount = min(16, data.count - offset)
                        for byte in prefix { put(byte) }
                        put(UInt8(ascii: "0")); put(UInt8(ascii: "x"))
                        let lineAddress = address &+ UInt64(offset)
                        for shift in stride(from: 60, through: 0, by: -4) {
                            put(hex[Int((lineAddress >> UInt64(shift)) & 0xf)])
                        }
                        for byte in suffix { put(byte) }
                        put(32)
                        for i in 0..<rowCount {
                            if i == 8 { put(32) }
                            let byte = data[offset + i]
                            put(32); put(hex[Int(byte >> 4)]); put(hex[Int(byte & 0xf)])
                        }
                        let pad = (16 - rowCount) * 3 + (rowCount <= 8 ? 1 : 0)
                        for _ in 0..<(pad + 2) { put(32) }
                        put(UInt8(ascii: "|"))
                        for i in 0..<rowCount {
                            let byte = data[offset + i]
                            put(byte >= 0x20 && byte < 0x7f ? byte : UInt8(ascii: "."))
                        }
                        put(UInt8(ascii: "|"))
                        offset += 16
                    }
                }
            }
            return at
        }
    }

    /// The bytes as one string of lowercase hex digits (JSON's "bytes").
    static func digitString(_ bytes: [UInt8]) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            digits.withUnsafeBufferPointer { hex in
                for (i, byte) in bytes.enumerated() {
                    out[2 * i] = hex[Int(byte >> 4)]
                    out[2 * i + 1] = hex[Int(byte & 0xf)]
                }
            }
            return bytes.count * 2
        }
    }
}
