import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest

/// `layout --svg` (issue #3): the file is well-formed XML that a real
/// browser renders. The browser part runs where Chromium is installed (the
/// README shows the same command for a handout); the XML check runs always.
final class LayoutSVGRenderTests: XCTestCase {
    func testTheDrawingIsWellFormedAndChromiumRendersIt() throws {
        let program = try TestTarget("threads", ["2"])
        let dir = NSTemporaryDirectory() + "vmscope-svg-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let svg = dir + "/layout.svg"
        let run = try VMScope.run(["--pid", "\(program.pid)", "--batch", "--symbolic", "-ex", "layout --full --svg \(svg)"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let data = try Data(contentsOf: URL(fileURLWithPath: svg))

        // Well-formed: an XML parser reads it to the end. Count the boxes and
        // find each thread's stack, named by its tid like everywhere else.
        final class Counter: NSObject, XMLParserDelegate {
            var rects = 0, texts: [String] = [], current = ""
            func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?,
                        qualifiedName: String?, attributes: [String: String] = [:]) {
                if name == "rect" { rects += 1 }
                current = ""
            }
            func parser(_ parser: XMLParser, foundCharacters string: String) { current += string }
            func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
                if name == "text" { texts.append(current) }
            }
        }
        let parser = XMLParser(data: data)
        let counter = Counter()
        parser.delegate = counter
        XCTAssertTrue(parser.parse(), "not well-formed: \(parser.parserError.map { "\($0)" } ?? "?")")
        XCTAssertGreaterThan(counter.rects, 20)
        for band in ["kernel half", "non-canonical hole", "[stack]", "memory-mapped region", ".text"] {
            XCTAssertTrue(counter.texts.contains { $0.hasPrefix(band) }, "no \(band) in the drawing")
        }
        let tids = program.startupLines.compactMap { program.fields($0)["tid"] }
        XCTAssertEqual(tids.count, 2)
        XCTAssertEqual(Set(counter.texts.filter { $0.hasPrefix("stack of thread ") }.map { String($0.prefix(20)) }),
                       ["stack of thread TID1", "stack of thread TID2"],
                       "named as in the transcript under --symbolic: \(counter.texts)")
        for tid in tids { XCTAssertFalse(counter.texts.contains { $0.contains(tid) }, "raw tid \(tid) in the drawing") }
        XCTAssertFalse(counter.texts.contains { $0.contains("pid \(program.pid)") }, "--symbolic leaves the pid out")

        // A real browser: headless Chromium takes a screenshot of it.
        let browsers: [String] = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        guard let chromium = browsers.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("no Chromium here to render the SVG")
        }
        let png = dir + "/layout.png"
        let shot = try runCommand(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(dir)/profile",
                                             "--screenshot=\(png)", "--window-size=1000,1400", "file://\(svg)"], timeout: 60)
        XCTAssertEqual(shot.status, 0, shot.stderr)
        let image = try Data(contentsOf: URL(fileURLWithPath: png))
        XCTAssertEqual(Array(image.prefix(8)), [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], "a PNG")
        // IHDR: width and height, big-endian, at bytes 16 and 20.
        func be32(_ at: Int) -> Int { image[at..<at + 4].reduce(0) { $0 << 8 | Int($1) } }
        XCTAssertEqual(be32(16), 1000)
        XCTAssertEqual(be32(20), 1400)
        XCTAssertGreaterThan(image.count, 20_000, "a drawing, not a blank page")
    }
}
