import Glibc
import VMScopeCore

/// The layout diagram as an SVG for handouts. Bands span from a few bytes to
/// exabytes, so each box's height is proportional to log2 of its size (a
/// linear scale would show nothing but the non-canonical hole); gaps between
/// bands are drawn the same way, hatched. High addresses at the top, as in
/// the model. Open it in any browser.
enum LayoutSVG {
    static let width = 980.0
    static let unit = 5.0          // pixels per doubling of size
    static let minimumHeight = 16.0

    static func height(_ size: UInt64) -> Double {
        max(minimumHeight, unit * log2(Double(max(size, 1))))
    }

    /// `names`: the stable id names under --symbolic (the file is not
    /// filtered like the transcript), so a drawing names TID1, not a tid.
    static func render(_ result: LayoutResult, names: [Int32: String] = [:]) -> String {
        let namer = result.namer
        struct Row { let band: Band; let isGap: Bool; let parts: [Band]; let index: Int }
        var rows: [Row] = []
        var previousStart: UInt64?
        var index = 0
        let bands = result.bands
        while index < bands.count {
            let band = bands[index]
            var parts: [Band] = []
            var next = index + 1
            while next < bands.count && bands[next].level == 1 { parts.append(bands[next]); next += 1 }
            if let above = previousStart, band.end != 0, above > band.end {
                rows.append(Row(band: Band(name: "unmapped gap", start: band.end, end: above, kind: "gap", level: 0, detail: ""),
                                isGap: true, parts: [], index: -1))
            }
            rows.append(Row(band: band, isGap: false, parts: parts, index: index))
            previousStart = band.start
            index = next
        }
        var y = 60.0
        var body = ""
        var longestEdge = 0
        for row in rows {
            // A band's box is at least as tall as its parts stacked.
            let h = max(height(row.band.size), row.parts.map { height($0.size) }.reduce(0, +))
            let fill = row.isGap ? "url(#hatch)" : color(row.band.kind)
            body += rect(x: 200, y: y, w: 300, h: h, fill: fill)
            let bandMarks = row.index >= 0 ? result.markers(for: row.index) : []
            body += label(x: 210, y: y + 15, text: replacingIDs(in: row.band.name, names: names) + (bandMarks.isEmpty ? "" : "  <- " + bandMarks.joined(separator: ", ")),
                          bold: !row.isGap)
            body += label(x: 490, y: y + 15, text: humanSize(row.band.size), bold: false, anchor: "end")
            // The band's end (top edge) and start (bottom edge) on the left.
            let edge = row.band.end == 0 ? "2^64" : namer.nameEnd(row.band.end)
            longestEdge = max(longestEdge, edge.count)
            body += label(x: 190, y: y + 11, text: edge, bold: false, anchor: "end", mono: true)
            if row.band.start == 0 {
                body += label(x: 190, y: y + h, text: "0x0", bold: false, anchor: "end", mono: true)
            }
            // Parts on the right, on the same log scale, stacked from the band's top.
            var py = y
            for (offset, part) in row.parts.enumerated() {
                let ph = height(part.size)
                body += rect(x: 520, y: py, w: 440, h: ph, fill: color(part.kind))
                let marks = result.markers(for: row.index + 1 + offset)
                let text = "\(replacingIDs(in: part.name, names: names))  \(namer.name(part.start))  \(humanSize(part.size))"
                    + (marks.isEmpty ? "" : "  <- " + marks.joined(separator: ", "))
                body += label(x: 528, y: py + 12, text: text, bold: false, size: 11)
                py += ph
            }
            y += h
        }
        let total = y + 30
        // Long edge labels (symbolic names such as "ld-linux-x86-64.so.2+0x35000")
        // would run off the left edge: widen the picture to the left instead.
        let margin = Int(max(0, Double(longestEdge) * 7.3 - 185).rounded(.up))
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width) + margin)\" height=\"\(Int(total))\" viewBox=\"\(-margin) 0 \(Int(width) + margin) \(Int(total))\" font-family=\"sans-serif\">\n"
        svg += "<defs><pattern id=\"hatch\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"8\" height=\"8\" fill=\"#fafafa\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"8\" stroke=\"#ccc\" stroke-width=\"3\"/></pattern></defs>\n"
        svg += "<rect x=\"\(-margin)\" width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        // The file is not filtered like the transcript: --symbolic leaves the pid out itself.
        let pid = namer.symbolic ? "" : " (pid \(result.space.pid))"
        let title = "Address space of \(result.processName)\(pid): \(LayoutSupport.paging(result.space.geometry))"
        svg += label(x: 20, y: 24, text: title, bold: true, size: 15)
        svg += label(x: 20, y: 44, text: "Box heights are proportional to log2(size); high addresses at the top, as in the model.", bold: false, size: 11)
        svg += body
        svg += "</svg>\n"
        return svg
    }

    static func color(_ kind: String) -> String {
        switch kind {
        case "text", "code": return "#f4b6b6"
        case "rodata": return "#c9e8c1"
        case "data", "bss": return "#e3c6ef"
        case "heap": return "#b9cff5"
        case "stack", "thread stack", "args": return "#f7e3a1"
        case "library", "vdso", "vvar": return "#b8e6ea"
        case "mmap region": return "#e2f4f5"
        case "guard": return "#d0d0d0"
        case "kernel half", "vsyscall": return "#9aa3ad"
        case "non-canonical hole": return "#eeeeee"
        default: return "#f5f5f5"
        }
    }

    static func rect(x: Double, y: Double, w: Double, h: Double, fill: String) -> String {
        "<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(w))\" height=\"\(f(h))\" fill=\"\(fill)\" stroke=\"#555\" stroke-width=\"0.7\"/>\n"
    }

    static func label(x: Double, y: Double, text: String, bold: Bool, size: Double = 12, anchor: String = "start",
                      mono: Bool = false) -> String {
        guard !text.isEmpty else { return "" }
        let family = mono ? " font-family=\"monospace\"" : ""
        return "<text x=\"\(f(x))\" y=\"\(f(y))\" font-size=\"\(f(size))\" text-anchor=\"\(anchor)\"\(family)\(bold ? " font-weight=\"bold\"" : "")>\(escaped(sanitized(text, limit: 120)))</text>\n"
    }

    static func f(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }

    static func escaped(_ text: String) -> String {
        var out = ""
        for ch in text {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(ch)
            }
        }
        return out
    }

    static func write(_ result: LayoutResult, to path: String, names: [Int32: String] = [:]) throws {
        // Never through a planted symbolic link (see Transcript).
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw VMScopeError.system(operation: "write \(sanitized(path))", errno: errno) }
        defer { close(fd) }
        var text = render(result, names: names)
        let failed: Int32? = text.withUTF8 { buffer in
            var done = 0
            while done < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + done, buffer.count - done)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return errno }
                done += n
            }
            return nil
        }
        if let failed { throw VMScopeError.system(operation: "write \(sanitized(path))", errno: failed) }
    }
}
