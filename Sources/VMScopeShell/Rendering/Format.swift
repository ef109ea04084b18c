/// Number and text formatting shared by every command.

/// "0x" and lowercase hex digits.
public func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

/// Hex padded to `width` digits.
public func hex(_ value: UInt64, width: Int) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, width - digits.count)) + digits
}

/// A size in the largest binary unit that keeps it readable: "4 KiB", "1.5 MiB".
public func humanSize(_ bytes: UInt64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
    if unit == 0 { return "\(bytes) B" }
    let rounded = (value * 10).rounded() / 10
    let text = rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    return "\(text) \(units[unit])"
}

/// Makes text from the target safe to print: control bytes (ESC, BEL,
/// newlines) and invalid UTF-8 become escapes, and the length is capped, so
/// a hostile process name or path cannot drive the terminal.
public func sanitized(_ text: String, limit: Int = 512) -> String {
    var out = ""
    var count = 0
    for scalar in text.unicodeScalars {
        if count >= limit { out += "..."; break }
        switch scalar.value {
        case 0x20..<0x7f, 0xa0...: out.unicodeScalars.append(scalar)
        case 0x0a: out += "\\n"
        case 0x09: out += "\\t"
        default: out += "\\x" + hex(UInt64(scalar.value), width: 2).dropFirst(2)
        }
        count += 1
    }
    return out
}

/// How many columns text takes on a terminal: colour escapes take none.
func visibleWidth(_ text: String) -> Int {
    var width = 0
    var inEscape = false
    for scalar in text.unicodeScalars {
        if inEscape { if scalar == "m" { inEscape = false }; continue }
        if scalar == "\u{1B}" { inEscape = true; continue }
        width += 1
    }
    return width
}

/// Pads on the right to `width` columns.
func padded(_ text: String, _ width: Int) -> String {
    let have = visibleWidth(text)
    return have >= width ? text : text + String(repeating: " ", count: width - have)
}

/// Pads on the left to `width` characters.
func leftPadded(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
}

/// Lays out rows as columns separated by two spaces; the last column is not padded.
func table(_ rows: [[String]]) -> String {
    guard let columns = rows.map(\.count).max() else { return "" }
    var widths = [Int](repeating: 0, count: columns)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], visibleWidth(cell)) } }
    return rows.map { row in
        row.enumerated().map { i, cell in i == row.count - 1 ? cell : padded(cell, widths[i]) }
            .joined(separator: "  ")
    }.joined(separator: "\n")
}
