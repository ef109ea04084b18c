import Foundation
import XCTest
@testable import VMScopeCore
@testable import VMScopeShell

/// The execution commands in-process, each checked against what the
/// target prints about itself.
final class ExecutionCommandTests: XCTestCase {
    private func session(attachedTo program: TestTarget) throws -> Session {
        let session = Session(settings: Session.Settings(), output: DiscardOutput())
        session.target = try Target.attach(pid: program.pid)
        return session
    }

    /// sbrk(n) returns the old break; heapgrow then prints the new one.
    func testFinishReportsTheValueTheFunctionReturned() throws {
        let program = try TestTarget("heapgrow")
        let session = try session(attachedTo: program)
        defer { session.release() }
        _ = try BreakCommand.run(["sbrk"], in: session)
        try program.send("sbrk 4096")
        _ = try ContinueCommand.run([], in: session)
        _ = try DeleteCommand.run([], in: session)
        let finished = try XCTUnwrap(FinishCommand.run([], in: session) as? StopResult)
        XCTAssertEqual(finished.event.reason, .stepped)
        let returned = try XCTUnwrap(finished.returnValue)
        XCTAssertTrue(finished.location?.hasPrefix("main+") ?? false, "back in the caller: \(finished.location ?? "-")")
        session.release()
        let printed = try XCTUnwrap(program.fields(try program.readLine())["brk"].flatMap(program.parseHex))
        XCTAssertEqual(returned + 4096, printed)
    }

    /// `nexti` on a call runs the whole call: it ends at the next
    /// instruction with rsp where it was.
    func testNextiOverACallEndsAfterItInTheSameFrame() throws {
        let program = try TestTarget("heapgrow")
        let session = try session(attachedTo: program)
        defer { session.release() }
        let target = try session.requireTarget()
        _ = try BreakCommand.run(["heapgrow.c:27"], in: session)  // if (sbrk(n) == (void *)-1)
        try program.send("sbrk 4096")
        _ = try ContinueCommand.run([], in: session)
        _ = try DeleteCommand.run([], in: session)
        var steppedOverACall = false
        for _ in 0..<20 {
            let before = try target.registers()
            let insn = try XCTUnwrap(target.instructions(at: before.rip, count: 1, using: session.execution.disassembler).first)
            let stop = try XCTUnwrap((NextiCommand.run([], in: session) as? StopsResult)?.stops.last)
            XCTAssertEqual(stop.event.reason, .stepped)
            if insn.isCall {
                XCTAssertEqual(stop.event.pc, before.rip + UInt64(insn.length), "after the call")
                XCTAssertEqual(try target.registers().rsp, before.rsp, "the same frame")
                steppedOverACall = true
                break
            }
        }
        XCTAssertTrue(steppedOverACall, "line 27 calls sbrk")
        session.release()
        XCTAssertTrue(try program.readLine().hasPrefix("brk=0x"))
    }

    /// FILE:LINE resolves through the line table to code of that line.
    func testBreakAtFileAndLine() throws {
        let program = try TestTarget("recurse-nopie", ["3"])
        let session = try session(attachedTo: program)
        defer { session.release() }
        let target = try session.requireTarget()
        let address = try Locations.resolve("recurse.c:41", in: session)
        XCTAssertEqual(try target.unwinder().sourceLocation(of: address)?.line, 41)
        XCTAssertEqual(try target.unwinder().sourceLocation(of: address)?.file.hasSuffix("recurse.c"), true)
        XCTAssertThrowsError(try Locations.resolve("no_such_function_here", in: session)) { error in
            XCTAssertEqual(error as? ShellError, .unknownSymbol("no_such_function_here"))
        }
    }

    func testBadInputToExecutionCommandsIsOneSentenceEach() throws {
        let program = try TestTarget("heapgrow")
        let session = try session(attachedTo: program)
        defer { session.release() }
        for (command, arguments) in [(DeleteCommand.run, ["99"]), (BreakCommand.run, ["nothing_called_this"]),
                                     (StepiCommand.run, ["-3"]), (SignalCommand.run, ["pass", "SIGNOPE"]),
                                     (CatchSyscallCommand.run, ["syscall", "notacall"]), (DisasCommand.run, ["0x10"])] {
            XCTAssertThrowsError(try command(arguments, session), "\(arguments)") { error in
                let sentence = VMScopeShell.sentence(for: error)
                XCTAssertFalse(sentence.isEmpty)
                XCTAssertFalse(sentence.contains("\n"), sentence)
            }
        }
        XCTAssertEqual(try session.requireTarget().breakpoints.count, 0, "nothing half-set")
        session.release()
        XCTAssertTrue(try program.request("sbrk 16").hasPrefix("brk=0x"), "the target runs on")
    }

    /// A stopping signal is reported and then delivered by the next
    /// continue; an ignored one never reaches the target.
    func testSignalPoliciesStopDeliverAndIgnore() throws {
        let program = try TestTarget("signals")
        let session = try session(attachedTo: program)
        defer { session.release() }
        _ = try SignalCommand.run(["ignore", "SIGUSR2"], in: session)
        let sender = Thread {
            usleep(100_000)
            kill(program.pid, SIGUSR2)
            usleep(100_000)
            kill(program.pid, SIGUSR1)
        }
        sender.start()
        let stop = try XCTUnwrap(ContinueCommand.run([], in: session) as? StopResult)
        XCTAssertEqual(stop.event.reason, .signal(number: SIGUSR1, code: 0, faultAddress: nil))
        session.release()  // hands SIGUSR1 over, as continue would
        XCTAssertEqual(program.fields(try program.request("count"))["usr1"], "1", "the stopping signal was delivered")
        XCTAssertEqual(program.fields(try program.request("count"))["usr2"], "0", "the ignored one was not")
    }

    /// A 1 MiB malloc is served by mmap: between the stop at malloc's entry
    /// and the stop after it returned, `maps diff` shows the new mapping,
    /// and it holds the pointer the target then prints.
    func testMapsDiffShowsTheMappingAMallocCreated() throws {
        let program = try TestTarget("heapgrow")
        let session = try session(attachedTo: program)
        defer { session.release() }
        _ = try BreakCommand.run(["malloc"], in: session)
        try program.send("malloc 1048576")
        _ = try ContinueCommand.run([], in: session)
        _ = try DeleteCommand.run([], in: session)
        let returned = try XCTUnwrap((FinishCommand.run([], in: session) as? StopResult)?.returnValue)
        let diff = try XCTUnwrap(MapsDiffCommand.run([], in: session) as? MapsDiffResult)
        let holder = diff.changes.first { change in
            guard let after = change.after, change.kind == .mapped || change.kind == .grew else { return false }
            return after.contains(returned)
        }
        XCTAssertNotNil(holder, "\(diff.changes.map(\.sentence))")
        session.release()
        let printed = program.fields(try program.readLine())["ptr"].flatMap(program.parseHex)
        XCTAssertEqual(printed, returned)
    }

    /// The `threads` command lists a thread created while the target ran,
    /// with the tid the thread itself prints.
    func testAThreadStartedWhileRunningShowsInThreads() throws {
        let program = try TestTarget("spawner")
        let session = try session(attachedTo: program)
        defer { session.release() }
        _ = try BreakCommand.run(["new_thread_ready"], in: session)
        try program.send("thread")
        let stop = try XCTUnwrap(ContinueCommand.run([], in: session) as? StopResult)
        let listed = try XCTUnwrap(ThreadsCommand.run([], in: session) as? ThreadsResult).rows.map(\.tid)
        XCTAssertEqual(listed.sorted(), [program.pid, stop.event.tid].sorted())
        session.release()
        XCTAssertEqual(try program.readLine(), "thread tid=\(stop.event.tid)")
    }

    /// The target exits while running: the stop says how, and the next
    /// command gets one sentence instead of a crash.
    func testTheTargetExitingWhileRunningIsAStopAndTheShellGoesOn() throws {
        let program = try TestTarget("heapgrow")
        let session = try session(attachedTo: program)
        defer { session.release() }
        let sender = Thread {
            usleep(100_000)
            try? program.send("exit 3")
        }
        sender.start()
        let stop = try XCTUnwrap(ContinueCommand.run([], in: session) as? StopResult)
        XCTAssertEqual(stop.event.reason, .exited(.exited(code: 3)))
        XCTAssertTrue(stop.text(.plain).contains("3"), stop.text(.plain))
        XCTAssertThrowsError(try ContinueCommand.run([], in: session)) { error in
            XCTAssertTrue(VMScopeShell.sentence(for: error).contains("\(program.pid)"), VMScopeShell.sentence(for: error))
        }
    }
}
