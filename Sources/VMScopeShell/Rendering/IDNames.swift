/// Stable names for process and thread ids (`PID`, `TID1`...), put into text
/// before it is laid out: a table sizes its columns, and `explain` wraps its
/// lines, by what is finally printed, so a transcript does not change when
/// the same thread gets a 3-digit tid in one run and a 5-digit one in the next.
func replacingIDs(in text: String, names: [Int32: String]) -> String {
    guard !names.isEmpty else { return text }
    let chars = Array(text)
    var out = ""
    var i = 0
    while i < chars.count {
        guard chars[i].isASCII && chars[i].isNumber else { out.append(chars[i]); i += 1; continue }
        var end = i
        while end < chars.count && chars[end].isASCII && chars[end].isNumber { end += 1 }
        let run = String(chars[i..<end])
        // Whole numbers only: not digits inside a hex number, a name or $reg.
        let before: Character = i > 0 ? chars[i - 1] : " "
        let after: Character = end < chars.count ? chars[end] : " "
        let standsAlone = !(before.isLetter || before == "_" || before == "$")
            && !(after.isLetter || after == "_")
        if standsAlone, let id = Int32(run), let name = names[id] { out += name } else { out += run }
        i = end
    }
    return out
}

extension Style {
    /// `text` with known ids replaced by their stable names (none unless --symbolic).
    public func namingIDs(_ text: String) -> String { replacingIDs(in: text, names: idNames) }
}
