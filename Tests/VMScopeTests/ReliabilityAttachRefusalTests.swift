import Foundation
import XCTest
@testable import VMScopeCore

/// Issue #8, case 5 (every process vmscope cannot attach to gets one clear
/// sentence from the real executable) and 4b (a pidfd and the start time
/// keep vmscope from signalling a reused pid).
final class ReliabilityAttachRefusalTests: XCTestCase {
    private func vmscopeAttach(_ pid: pid_t, prefix: [String] = []) throws -> (status: Int32, stderr: String) {
        let args = ["--pid", String(pid), "--batch", "-ex", "regs"]
        let run = prefix.isEmpty ? try VMScope.run(args, timeout: 20)
            : try runCommand(prefix[0], Array(prefix.dropFirst()) + [VMScope.binary] + args, timeout: 20)
        XCTAssertLessThan(run.status, 128, "vmscope died of a signal: \(run.stderr)")
        return (run.status, run.stderr)
    }

    /// One line: "error: " and one sentence ending with a full stop.
    private func assertOneSentence(_ stderr: String, contains text: String, file: StaticString = #filePath, line: UInt = #line) {
        let lines = stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, stderr, file: file, line: line)
        XCTAssertTrue(stderr.hasPrefix("error: "), stderr, file: file, line: line)
        XCTAssertTrue(stderr.trimmingCharacters(in: .newlines).hasSuffix("."), stderr, file: file, line: line)
        XCTAssertTrue(stderr.contains(text), "expected '\(text)' in: \(stderr)", file: file, line: line)
    }

    private static let nobody = ["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]

    private func skipUnlessSetprivAsRoot() throws {
        try XCTSkipUnless(geteuid() == 0 && access(Self.nobody[0], X_OK) == 0,
                          "dropping to 'nobody' needs root and setpriv (util-linux)")
    }

    func testAProcessAlreadyTracedByAnotherVmscopeStraceOrGdbIsNamed() throws {
        let program = try TestTarget("recurse", ["2"])
        // Another vmscope holding it: it reads commands from its stdin pipe until EOF.
        let holder = try TestTarget(VMScope.binary, ["--pid", String(program.pid), "-ex", "echo ready"])
        var result = try vmscopeAttach(program.pid)
        XCTAssertEqual(result.status, 1)
        assertOneSentence(result.stderr, contains: "is already traced by process")
        XCTAssertTrue(result.stderr.contains("(vmscope)"), result.stderr)
        holder.closeStdin()
        XCTAssertNotNil(holder.waitForExit(timeout: 10))
        XCTAssertTrue(Reliability.wait(timeout: 5) { tracerPid(program.pid) == 0 })

        for tracer in [["/usr/bin/strace", "-o", "/dev/null", "-p"], ["/usr/bin/gdb", "-nx", "-batch", "-ex", "shell sleep 30", "-p"]]
        where access(tracer[0], X_OK) == 0 {
            let name = String(tracer[0].split(separator: "/").last ?? "")
            let process = Process()
            process.executableURL = URL(fileURLWithPath: tracer[0])
            process.arguments = Array(tracer.dropFirst()) + [String(program.pid)]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            defer {
                process.terminate()
                process.waitUntilExit()
                Reliability.wait(timeout: 5) { tracerPid(program.pid) == 0 }
            }
            guard Reliability.wait(timeout: 10, { (tracerPid(program.pid) ?? 0) != 0 }) else {
                XCTFail("\(name) did not attach")
                continue
            }
            result = try vmscopeAttach(program.pid)
            assertOneSentence(result.stderr, contains: "is already traced by process")
            XCTAssertTrue(result.stderr.contains("(\(name))"), result.stderr)
        }
    }

    func testAZombieIsNamedAsOne() throws {
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
        defer { for p in argv { free(p) } }
        XCTAssertEqual(posix_spawn(&pid, "/bin/true", nil, nil, argv, environ), 0)
        defer { var status: Int32 = 0; waitpid(pid, &status, 0) }
        XCTAssertTrue(Reliability.wait(timeout: 5) { TestTarget.state(of: pid) == "Z" })
        let result = try vmscopeAttach(pid)
        assertOneSentence(result.stderr, contains: "Process \(pid) is a zombie")
    }

    func testAKernelThreadVmscopeItselfAndAMissingPidEachGetTheirSentence() throws {
        if let stat = try? String(contentsOfFile: "/proc/2/stat", encoding: .utf8), stat.contains("(kthreadd)") {
            assertOneSentence(try vmscopeAttach(2).stderr, contains: "Process 2 is a kernel thread")
        }
        // The shell's pid becomes vmscope's own through exec.
        let own = try runCommand("/bin/sh", ["-c", "exec \"$0\" --pid $$ --batch -ex regs", VMScope.binary], timeout: 20)
        assertOneSentence(own.stderr, contains: "is vmscope itself")
        assertOneSentence(try vmscopeAttach(99_999_999).stderr, contains: "No process with pid 99999999 exists.")
    }

    func testAnotherUsersProcessAndPidOneGiveTheEPERMReason() throws {
        try skipUnlessSetprivAsRoot()
        let program = try TestTarget("recurse", ["2"])
        let asNobody = try vmscopeAttach(program.pid, prefix: Self.nobody)
        assertOneSentence(asNobody.stderr, contains: "Not permitted to trace process \(program.pid): it belongs to user 0")
        XCTAssertEqual(tracerPid(program.pid), 0)
        assertOneSentence(try vmscopeAttach(1, prefix: Self.nobody).stderr, contains: "Not permitted to trace process 1")
        // Pid 1 of a new pid namespace (a root shell), seen from a process of 'nobody' inside it.
        if access("/usr/bin/unshare", X_OK) == 0 {
            let inside = try runCommand("/usr/bin/unshare", ["--pid", "--fork", "--mount-proc", "/bin/sh", "-c",
                                                              "\"$@\"; true", "sh"] + Self.nobody
                                        + [VMScope.binary, "--pid", "1", "--batch", "-ex", "regs"], timeout: 20)
            if inside.stderr.contains("unshare:") {
                print("pid namespace case skipped: \(inside.stderr)")
            } else {
                assertOneSentence(inside.stderr, contains: "Not permitted to trace process 1: it belongs to user 0")
            }
        }
    }

    // MARK: 4b: pid reuse

    func testAHandleNeverSignalsAProcessThatEnded() throws {
        let program = try TestTarget("recurse", ["2"])
        let handle = try XCTUnwrap(ProcessHandle(pid: program.pid))
        XCTAssertTrue(handle.isSameProcess)
        program.terminate()
        XCTAssertThrowsError(try handle.send(SIGTERM)) { XCTAssertEqual($0 as? ProcessHandle.Refusal, .ended) }
    }

    func testAHandleRefusesAPidWhoseStartTimeChanged() throws {
        let program = try TestTarget("signals")
        let real = try XCTUnwrap(ProcFS.stat(pid: program.pid)?.startTime)
        // What a handle made for an earlier process with this pid would hold.
        let stale = ProcessHandle(pid: program.pid, startTime: real &- 1)
        XCTAssertFalse(stale.isSameProcess)
        XCTAssertThrowsError(try stale.send(SIGUSR1)) {
            XCTAssertEqual($0 as? ProcessHandle.Refusal, .pidReused(was: real &- 1, now: real))
        }
        usleep(20_000)
        XCTAssertEqual(program.fields(try program.request("count"))["usr1"], "0", "the other process got the signal")
        // The right start time does signal it.
        try ProcessHandle(pid: program.pid, startTime: real).send(SIGUSR1)
        XCTAssertTrue(Reliability.wait(timeout: 5) {
            (try? program.fields(program.request("count"))["usr1"]) == "1"
        })
    }

    func testTargetHoldsAPidfdFromAttachOn() throws {
        let program = try TestTarget("recurse", ["2"])
        let target = try Target.attach(pid: program.pid)
        XCTAssertEqual(target.handle.startTime, target.startTime)
        let links = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").compactMap {
            try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0)
        }
        XCTAssertTrue(links.contains("anon_inode:[pidfd]"), "\(links)")
        try target.kill()
        XCTAssertNil(TestTarget.state(of: program.pid).flatMap { $0 == "Z" ? nil : $0 })
    }
}
