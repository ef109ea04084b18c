import Foundation
import XCTest
@testable import VMScopeCore
@testable import VMScopeShell

/// Issue #8, case 8: random and mutated command lines and address
/// expressions (10,000 in `make test`, 100,000 under `make stress`), with
/// and without a process attached. Every input is answered with a result or
/// an error sentence, none crashes vmscope (a Swift trap would end this test
/// process), and the whole run is time-boxed.
final class ReliabilityFuzzTests: XCTestCase {
    /// SplitMix64: a seeded generator, so a failing input can be replayed.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
    }

    final class CountingSink: OutputSink {
        var results = 0
        var errors = 0
        func write(_ text: String) { results += 1 }
        func writeError(_ text: String) { errors += 1 }
    }

    /// Commands that would change what is attached, read other files or
    /// end the shell, or let the target run (`continue` on a parked target
    /// waits, as in GDB, until it stops or Ctrl-C): the fuzz tests parsing,
    /// not process control.
    static let excluded: Set<String> = ["attach", "run", "source", "kill", "detach", "quit",
                                        "continue", "stepi", "nexti", "finish", "until"]

    static let vocabulary: [String] = {
        var words = CommandTable.names + ["all", "-n", "-s", "--full", "--svg", "on", "off", "stop", "continue",
                                          "reg", "on-error", "color", "symbolic", "1", "0", "-1", "16", "64"]
        words += Registers.mainNames.map { "$" + $0 } + ["$", "$nope", "$eax", "$al", "$rip+8", "$rsp-0x10"]
        words += ["0x", "0x0", "0xffffffffffffffff", "0x10000000000000000", "18446744073709551616", "0b101",
                  "0o777", "1_000", "+", "-", "--", "'", "\"", "\\", "#", "''", "\"a b\"", "'x", "\\ ",
                  "\u{1b}[2J", "\u{7}", "é", "\u{202e}", String(repeating: "9", count: 40), String(repeating: "A", count: 300)]
        return words
    }()

    static func randomLine(_ rng: inout Generator, examples: [String]) -> String {
        switch Int.random(in: 0..<4, using: &rng) {
        case 0:  // random bytes, possibly invalid UTF-8
            let bytes = (0..<Int.random(in: 0..<40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            return String(decoding: bytes.filter { $0 != 0 }, as: UTF8.self)
        case 1:  // words from the vocabulary
            return (0..<Int.random(in: 1..<6, using: &rng))
                .map { _ in vocabulary.randomElement(using: &rng) ?? "" }.joined(separator: " ")
        default:  // a documented example, mutated
            var chars = Array(examples.randomElement(using: &rng) ?? "help")
            for _ in 0..<Int.random(in: 0..<4, using: &rng) {
                let at = chars.isEmpty ? 0 : Int.random(in: 0..<chars.count, using: &rng)
                let insert: [Character] = Array(vocabulary.randomElement(using: &rng) ?? "x")
                switch Int.random(in: 0..<3, using: &rng) {
                case 0 where !chars.isEmpty: chars.remove(at: at)
                case 1: chars.insert(contentsOf: insert, at: at)
                default: if !chars.isEmpty { chars[at] = insert.first ?? "x" }
                }
            }
            return String(chars)
        }
    }

    private func fuzz(_ session: Session, count: Int, seed: UInt64, timeLimit: Double) -> (answered: Int, slowest: Double) {
        var rng = Generator(state: seed)
        let examples = CommandTable.all.map { $0.spec.example }
        let dispatcher = Dispatcher(session: session)
        let sink = session.output as! CountingSink
        var answered = 0
        var slowest = 0.0
        let deadline = Reliability.now() + timeLimit
        for index in 0..<count {
            let line = Self.randomLine(&rng, examples: examples)
            if let command = dispatcher.command(for: line), Self.excluded.contains(command.spec.name) {
                answered += 1
                continue
            }
            let before = sink.results + sink.errors
            let started = Reliability.now()
            do {
                let ran = try dispatcher.execute(line)
                if !ran || sink.results + sink.errors > before { answered += 1 } else {
                    XCTFail("input \(index) (seed \(seed)) ran but said nothing: \(line.debugDescription)")
                }
            } catch {
                let message = sentence(for: error)
                if message.isEmpty || message.hasPrefix("Unexpected error") {
                    XCTFail("input \(index) (seed \(seed)): \(line.debugDescription) -> \(message)")
                } else {
                    answered += 1
                }
            }
            session.quitRequested = false
            slowest = max(slowest, Reliability.now() - started)
            if Reliability.now() > deadline {
                XCTFail("fuzzing stopped at input \(index) of \(count): over \(timeLimit) s")
                break
            }
        }
        return (answered, slowest)
    }

    func testRandomAndMutatedCommandLinesAreAllAnswered() throws {
        let total = Reliability.count(quick: 10_000, full: 100_000)
        let withTarget = total * 3 / 10
        let seed = UInt64(ProcessInfo.processInfo.environment["VMSCOPE_FUZZ_SEED"] ?? "") ?? 0x5eed_0008
        let workdir = try Reliability.temporaryDirectory("fuzz")
        let previous = FileManager.default.currentDirectoryPath
        FileManager.default.changeCurrentDirectoryPath(workdir)  // `layout --svg` may write a file
        defer {
            FileManager.default.changeCurrentDirectoryPath(previous)
            try? FileManager.default.removeItem(atPath: workdir)
        }
        let started = Reliability.now()
        // JSON: every result is written, even an empty `echo`.
        var settings = Session.Settings()
        settings.json = true
        let bare = Session(settings: settings, output: CountingSink())
        let first = fuzz(bare, count: total - withTarget, seed: seed, timeLimit: 120)

        let program = try TestTarget("recurse", ["3"])
        let attached = Session(settings: settings, output: CountingSink())
        attached.target = try Target.attach(pid: program.pid)
        let second = fuzz(attached, count: withTarget, seed: seed &+ 1, timeLimit: 120)
        attached.release(killLaunched: true)
        let seconds = Reliability.now() - started

        Reliability.report("fuzz-commands", ["inputs": total, "with_target": withTarget, "answered": first.answered + second.answered,
                                              "failures": total - first.answered - second.answered, "seed": seed,
                                              "seconds": String(format: "%.1f", seconds),
                                              "slowest_ms": Reliability.ms(max(first.slowest, second.slowest))])
        XCTAssertEqual(first.answered + second.answered, total)
    }

    func testRandomAddressExpressionsAreValuesOrErrors() throws {
        let total = Reliability.count(quick: 10_000, full: 100_000)
        var rng = Generator(state: 0xadd2_e55)
        var registers = Registers(raw: user_regs_struct())
        try registers.set("rsp", to: 0x7ffe_0000_1000)
        try registers.set("rip", to: UInt64.max - 4)
        let pieces = ["$rsp", "$rip", "$eax", "$x", "0x10", "0xffffffffffffffff", "1", "-", "+", " ", "0b2", "0o8",
                      "99999999999999999999", "_", "0x_1", "$", "", "\t", "--", "++"]
        var values = 0, errors = 0
        for _ in 0..<total {
            let text = (0..<Int.random(in: 0..<7, using: &rng)).map { _ in pieces.randomElement(using: &rng) ?? "" }.joined()
            do {
                _ = try AddressExpression.evaluate(text, registers: Bool.random(using: &rng) ? registers : nil)
                values += 1
            } catch {
                XCTAssertFalse(sentence(for: error).hasPrefix("Unexpected"), text)
                errors += 1
            }
        }
        Reliability.report("fuzz-expressions", ["inputs": total, "values": values, "errors": errors,
                                                 "failures": total - values - errors])
        XCTAssertEqual(values + errors, total)
        XCTAssertGreaterThan(values, 0)
        XCTAssertGreaterThan(errors, 0)
    }
}
