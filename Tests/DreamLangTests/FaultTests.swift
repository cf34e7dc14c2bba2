import Foundation
import XCTest
import DreamTestSupport
import DreamLang
import DreamIO

/// Saving onto a full disk (a 64 KB tmpfs the test mounts) and into a read-only folder (the same tmpfs
/// remounted read-only): a clear error naming the file, the previous file intact, no temporary left behind.
/// Mounting needs root, which the suite has on its machines; elsewhere the test says it cannot run.
final class FaultTests: XCTestCase {
    func testSavingOntoAFullDiskOrIntoAReadOnlyFolderKeepsThePreviousFile() throws {
        guard getuid() == 0 else { throw XCTSkip("mounting a small tmpfs needs root") }
        let dir = makeTempDir()
        let disk = dir.appendingPathComponent("disk")
        try FileManager.default.createDirectory(at: disk, withIntermediateDirectories: true)
        func sh(_ command: String) -> Int32 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", command]
            try? p.run()
            p.waitUntilExit()
            return p.terminationStatus
        }
        guard sh("mount -t tmpfs -o size=64k tmpfs '\(disk.path)'") == 0 else { throw XCTSkip("cannot mount a tmpfs here") }
        defer { _ = sh("umount '\(disk.path)'"); try? FileManager.default.removeItem(at: dir) }

        let interp = Interpreter(registry: Registry.standard())
        interp.write = { _ in }
        func run(_ code: String) throws { try interp.run(SourceFile(name: "test", text: code)) }
        let files = ["t.safetensors", "t.png", "t.json"].map { disk.appendingPathComponent($0).path }
        // Small files first: they fit.
        try run("""
            save("\(files[0])", ones([4]))
            save("\(files[1])", zeros([1, 3, 4, 4]))
            save("\(files[2])", [1, 2, 3])
            """)
        let before = try files.map { try Data(contentsOf: URL(fileURLWithPath: $0)) }
        func assertIntact(_ why: String) throws {
            XCTAssertEqual(try files.map { try Data(contentsOf: URL(fileURLWithPath: $0)) }, before, why)
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: disk.path).sorted(), ["t.json", "t.png", "t.safetensors"], "\(why): a temporary was left")
        }
        // The disk is full: each write fails, naming the file and the reason.
        let big = "rand([1, 3, 256, 256], seed: 1)"
        for (i, value) in ["randn([100000], seed: 1)", big, "range(20000)"].enumerated() {
            let code = i == 2 ? "let xs = []\nfor k in range(20000) { let xs = xs + [k] }\nsave(\"\(files[i])\", xs)" : "save(\"\(files[i])\", \(value))"
            XCTAssertThrowsError(try run(code)) { e in
                XCTAssertTrue("\(e)".contains(files[i]) && "\(e)".contains("No space left on device"), "\(e)")
            }
        }
        try assertIntact("full disk")
        // Read-only: the same.
        XCTAssertEqual(sh("mount -o remount,ro '\(disk.path)'"), 0)
        XCTAssertThrowsError(try run("save(\"\(files[0])\", ones([2]))")) { e in
            XCTAssertTrue("\(e)".contains(files[0]) && "\(e)".contains("Read-only file system"), "\(e)")
        }
        try assertIntact("read-only folder")
    }
}
