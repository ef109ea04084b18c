/// The text of `x`: 16 bytes a line, hex and ASCII, written byte by byte
/// into one buffer. Building it from Strings (a String per byte) took about
/// 2 s for 8 MB; this takes a few tens of milliseconds, so dumping a large
/// block is limited by the terminal, not by vmscope.
enum HexDumpText {
    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Lines "0x<16 digits>  xx xx ... xx  xx ... xx  |ascii|", the address
    /// painted as `.address`; no trailing newline.
    static func lines(address: UInt64, bytes: [UInt8], style: Style) -> String {
        let painted = style.paint("\u{0}", .address).split(separator: "\u{0}", omittingEmptySubsequences: false)
        let prefix = Array((painted.first ?? "").utf8)
        let suffix = Array((painted.count > 1 ? painted[1] : "").utf8)
        let rows = (bytes.count + 15) / 16
        var out: [UInt8] = []
        out.reserveCapacity(rows * (80 + prefix.count + suffix.count))
        bytes.withUnsafeBufferPointer { data in
            var offset = 0
            while offset < data.count {
                if offset > 0 { out.append(10) }
                let rowCount = min(16, data.count - offset)
                out.append(contentsOf: prefix)
                out.append(UInt8(ascii: "0")); out.append(UInt8(ascii: "x"))
                let lineAddress = address &+ UInt64(offset)
                for shift in stride(from: 60, through: 0, by: -4) {
                    out.append(digits[Int((lineAddress >> UInt64(shift)) & 0xf)])
                }
                out.append(contentsOf: suffix)
                out.append(32)
                for i in 0..<rowCount {
                    if i == 8 { out.append(32) }
                    out.append(32)
                    let byte = data[offset + i]
                    out.append(digits[Int(byte >> 4)]); out.append(digits[Int(byte & 0xf)])
                }
                let pad = (16 - rowCount) * 3 + (rowCount <= 8 ? 1 : 0)
                for _ in 0..<(pad + 2) { out.append(32) }
                out.append(UInt8(ascii: "|"))
                for i in 0..<rowCount {
                    let byte = data[offset + i]
                    out.append((0x20..<0x7f).contains(byte) ? byte : UInt8(ascii: "."))
                }
                out.append(UInt8(ascii: "|"))
                offset += 16
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes as one string of lowercase hex digits (JSON's "bytes").
    static func digitString(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)]); out.append(digits[Int(byte & 0xf)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
