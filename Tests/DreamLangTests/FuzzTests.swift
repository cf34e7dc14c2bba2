import Foundation
import XCTest
import DreamTestSupport
import DreamLang
import DreamTensor

/// Random and mutated programs (seeded from the transcript corpus) through the parser and evaluator:
/// nothing may crash, nothing may take longer than a second, and every error must carry a location
/// inside its source.
final class FuzzTests: XCTestCase {
    typealias Rng = SeededRng

    static let fragments = ["let", "for", "in", "if", "else", "true", "false", "(", ")", "[", "]", "{", "}", ",", ":", ";",
                            ".", "...", "+", "-", "*", "/", "**", "@", "==", "<", ">=", "&&", "||", "!", "=", "\n", " ",
                            "\"", "\"s\"", "#", "0", "1", "-1", "2.5", "1e9", "1e300", "x", "y", "d", "xs", "i", "randn",
                            "zeros", "ones", "tensor", "reshape", "cat", "stack", "conv2d", "sum", "mean", "softmax",
                            "attention", "grad", "param", "range", "len", "print", "seed:", "axis:", "heads:", "padding:",
                            ":vars", ":help", ":time", ":load", "shape", "[2, 3]", "[3]", "x.shape", "d[\"a\"]",
                            "func", "f(", "func f(a, b: 1) {", "return", "while", "break", "continue", "import", "import \"lib/x.dream\"",
                            "%", "//", "exit(", "error(\"e\")", "assert(", "keys(", "contains("]

    func testFuzzParserAndEvaluator() throws {
        let corpus = try FileManager.default.contentsOfDirectory(atPath: transcriptsDir.path)
            .filter { $0.hasSuffix(".dream") || $0.hasSuffix(".stdin") }.sorted()
            .compactMap { try? String(contentsOf: transcriptsDir.appendingPathComponent($0), encoding: .utf8) }
            .filter { !$0.isEmpty }
        XCTAssertGreaterThan(corpus.count, 10)
        let dir = makeTempDir()
        let savedDir = FileManager.default.currentDirectoryPath
        FileManager.default.changeCurrentDirectoryPath(dir.path)
        defer {
            FileManager.default.changeCurrentDirectoryPath(savedDir)
            try? FileManager.default.removeItem(at: dir)
        }
        // The language alone: no model, world or plugin built-in, so no input can load a model or render.
        let registry = Registry.standard()
        XCTAssertNil(registry.lookup("model"))
        XCTAssertNil(registry.lookup("learn"))
        var rng = Rng(state: 2024)
        var slowest = 0.0, slowestInput = "", errors = 0, ran = 0
        let total = 20_000
        for n in 0..<total {
            let text = mutate(corpus, &rng, mode: n % 5)
            let interp = Interpreter(registry: registry)
            interp.write = { _ in }
            interp.warn = { _ in }
            interp.maxElements = 100_000
            interp.stepBudget = 5_000
            let file = SourceFile(name: "fuzz", text: text)
            if ProcessInfo.processInfo.environment["DREAM_FUZZ_TRACE"] != nil { try? text.write(toFile: "/tmp/fuzz-last.txt", atomically: false, encoding: .utf8) }
            let t0 = DispatchTime.now().uptimeNanoseconds
            do {
                try interp.run(file)
                ran += 1
            } catch is QuitRequest {
                ran += 1        // `:quit` reached: the run ends as asked
            } catch let e as DreamError {
                errors += 1
                let lines = max(file.lines.count, 1)
                if !(e.location.line >= 1 && e.location.line <= lines + 1 && e.location.column >= 1) {
                    XCTFail("error without a valid location (\(e.location)) for input #\(n): \(e.message)\n---\n\(text)")
                }
            } catch {
                XCTFail("input #\(n) raised \(type(of: error)) instead of a located error: \(error)\n---\n\(text)")
            }
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            if dt > slowest { slowest = dt; slowestInput = "#\(n):\n\(text)" }
            if dt > 1 { XCTFail("input #\(n) took \(dt) s\n---\n\(text)") }
        }
        print("fuzz: \(total) inputs, \(ran) ran cleanly, \(errors) located errors, slowest \(String(format: "%.3f", slowest)) s, input \(slowestInput)")
    }

    /// Five kinds of input: character edits, token-fragment edits, line splices between files,
    /// truncations, and programs of random fragments.
    func mutate(_ corpus: [String], _ rng: inout Rng, mode: Int) -> String {
        var chars = Array(rng.pick(corpus))
        switch mode {
        case 0:
            for _ in 0..<(1 + rng.below(4)) where !chars.isEmpty {
                let i = rng.below(chars.count)
                switch rng.below(3) {
                case 0: chars.remove(at: i)
                case 1: chars.insert(rng.pick(Array("()[]{}:,.;\"\\#+-*/@=<>!0123456789xyz \n")), at: i)
                default: chars[i] = rng.pick(Array("()[]{}:,.;\"+-*/@=0123456789 \n"))
                }
            }
            return String(chars)
        case 1:
            for _ in 0..<(1 + rng.below(3)) {
                let i = rng.below(chars.count + 1)
                chars.insert(contentsOf: " " + rng.pick(Self.fragments) + " ", at: i)
            }
            return String(chars)
        case 2:
            let a = rng.pick(corpus).split(separator: "\n", omittingEmptySubsequences: false)
            let b = rng.pick(corpus).split(separator: "\n", omittingEmptySubsequences: false)
            let cut1 = rng.below(a.count + 1), cut2 = rng.below(b.count + 1)
            return (a.prefix(cut1) + b.suffix(from: cut2)).joined(separator: "\n")
        case 3:
            return String(chars.prefix(rng.below(chars.count + 1)))
        default:
            return (0..<(1 + rng.below(30))).map { _ in rng.pick(Self.fragments) }.joined(separator: rng.below(2) == 0 ? " " : "")
        }
    }
}

/// Meta-commands whose output varies from run to run, checked by form in-process.
final class MetaCommandTests: XCTestCase {
    func testTimePrintsTheStatementsOutputThenTheTime() throws {
        let interp = Interpreter(registry: Registry.standard())
        var out = ""
        interp.write = { out += $0 }
        try interp.run(SourceFile(name: "t", text: ":time let y = sum(ones([100, 100]))\nprint(y)"))
        XCTAssertNotNil(out.range(of: #"^time: [0-9.]+ (ms|s)\ntensor\(10000\)\n$"#, options: .regularExpression), out)
    }

    func testLoadingItselfIsRefusedNotRecursedForever() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("self.dream").path
        try ":load \(path)\n".write(toFile: path, atomically: true, encoding: .utf8)
        let interp = Interpreter(registry: Registry.standard())
        XCTAssertThrowsError(try interp.run(SourceFile(name: "main", text: ":load \(path)"))) {
            XCTAssertTrue("\($0)".contains("more than 32 deep"), "\($0)")
        }
    }

    func testSeedsWithoutSeedFollowTheDefaultSeed() throws {
        func draw(_ seed: UInt64) throws -> String {
            let interp = Interpreter(registry: Registry.standard())
            interp.defaultSeed = seed
            var out = ""
            interp.write = { out += $0 }
            try interp.run(SourceFile(name: "s", text: "print(randn([3]))\nprint(randn([3]))"))
            return out
        }
        XCTAssertEqual(try draw(5), try draw(5))
        XCTAssertNotEqual(try draw(5), try draw(6))
        let lines = try draw(5).split(separator: "\n")
        XCTAssertNotEqual(lines[1], lines[3], "two calls without seed: must not repeat the same numbers")
    }
}
