import Foundation
import XCTest
import DreamTestSupport

/// Golden transcripts: each Tests/Transcripts/NAME.dream runs through the real binary in a fresh
/// directory (with Tests/Transcripts/lib, for imports); stdout, stderr and the exit status must equal NAME.out, NAME.err (absent: empty) and
/// NAME.code (absent: 0). NAME.args (JSON list, "{}" = the script, "{fixtures}" = Tests/Fixtures) replaces the command line, NAME.stdin
/// is piped in (and the script is not passed), NAME.interrupt sends Ctrl-C after that many seconds.
/// DREAM_RECORD=1 rewrites the expected files from what the binary does (review the diff!).
final class TranscriptTests: XCTestCase {
    func testTranscripts() throws {
        let fm = FileManager.default
        let names = try fm.contentsOfDirectory(atPath: transcriptsDir.path).filter { $0.hasSuffix(".dream") }.sorted()
        XCTAssertGreaterThan(names.count, 20)
        let record = ProcessInfo.processInfo.environment["DREAM_RECORD"] == "1"
        for file in names {
            let name = String(file.dropLast(6))
            func aux(_ ext: String) -> String? { try? String(contentsOf: transcriptsDir.appendingPathComponent("\(name).\(ext)"), encoding: .utf8) }
            let dir = makeTempDir()
            defer { try? fm.removeItem(at: dir) }
            // The script, text inputs and lib/ (the modules the import transcripts import).
            for f in try fm.contentsOfDirectory(atPath: transcriptsDir.path) where f == file || f.hasSuffix(".txt") || f == "lib" {
                try fm.copyItem(at: transcriptsDir.appendingPathComponent(f), to: dir.appendingPathComponent(f))
            }
            let stdin = aux("stdin")
            var args = stdin == nil ? [file] : []
            if let json = aux("args") {
                let fixtures = repoRoot.appendingPathComponent("Tests/Fixtures").path
                args = (try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String]).map {
                    $0 == "{}" ? file : $0.replacingOccurrences(of: "{fixtures}", with: fixtures)
                }
            }
            let r = try runDream(args, in: dir, stdin: stdin, interruptAfter: aux("interrupt").flatMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
            if record {
                try r.stdout.write(to: transcriptsDir.appendingPathComponent("\(name).out"), atomically: true, encoding: .utf8)
                let errURL = transcriptsDir.appendingPathComponent("\(name).err"), codeURL = transcriptsDir.appendingPathComponent("\(name).code")
                if r.stderr.isEmpty { try? fm.removeItem(at: errURL) } else { try r.stderr.write(to: errURL, atomically: true, encoding: .utf8) }
                if r.status == 0 { try? fm.removeItem(at: codeURL) } else { try "\(r.status)\n".write(to: codeURL, atomically: true, encoding: .utf8) }
                continue
            }
            XCTAssertEqual(r.stdout, aux("out") ?? "", "\(name): stdout")
            XCTAssertEqual(r.stderr, aux("err") ?? "", "\(name): stderr")
            XCTAssertEqual(r.status, Int32((aux("code") ?? "0").trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1, "\(name): exit status")
        }
    }
}
