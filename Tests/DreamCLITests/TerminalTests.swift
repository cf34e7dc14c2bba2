import Foundation
import XCTest
import DreamTestSupport

/// Drives the real binary in a pseudo-terminal, as a person would: typing, history, Tab, continuation
/// lines, Ctrl-C during a long computation, and history kept for the next session.
final class TerminalTests: XCTestCase {
    final class PTY {
        let master: Int32
        let pid: pid_t
        var screen = ""

        init(args: [String], env: [String: String], cwd: String) throws {
            // /dev/ptmx directly (posix_openpt is not visible from Swift's Glibc): unlock, find the number.
            master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
            var unlock: Int32 = 0, number: UInt32 = 0
            guard master >= 0, ioctl(master, UInt(0x4004_5431), &unlock) == 0,     // TIOCSPTLCK
                  ioctl(master, UInt(0x8004_5430), &number) == 0 else {            // TIOCGPTN
                throw NSError(domain: "pty", code: 1)
            }
            let slavePath = "/dev/pts/\(number)"
            var ws = winsize(ws_row: 40, ws_col: 120, ws_xpixel: 0, ws_ypixel: 0)
            _ = ioctl(master, UInt(TIOCSWINSZ), &ws)
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            // The child starts a new session (POSIX_SPAWN_SETSID), so opening the terminal makes it the
            // controlling one: Ctrl-C then reaches the child as SIGINT.
            posix_spawn_file_actions_addopen(&actions, 0, slavePath, O_RDWR, 0)
            posix_spawn_file_actions_adddup2(&actions, 0, 1)
            posix_spawn_file_actions_adddup2(&actions, 0, 2)
            posix_spawn_file_actions_addclose(&actions, master)
            var attr = posix_spawnattr_t()
            posix_spawnattr_init(&attr)
            posix_spawnattr_setflags(&attr, Int16(0x80))   // POSIX_SPAWN_SETSID
            let argv = ([dreamBinary] + args).map { strdup($0) } + [nil]
            let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
            var child: pid_t = 0
            let rc = posix_spawn(&child, dreamBinary, &actions, &attr, argv, envp)
            argv.forEach { free($0) }; envp.forEach { free($0) }
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attr)
            guard rc == 0 else { throw NSError(domain: "spawn", code: Int(rc)) }
            pid = child
            _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
        }

        func send(_ s: String) {
            _ = s.utf8CString.withUnsafeBufferPointer { write(master, $0.baseAddress, $0.count - 1) }
        }

        /// Types `keys` and waits for `text` in what the terminal shows after them.
        @discardableResult
        func type(_ keys: String, expecting text: String, file: StaticString = #filePath, line: UInt = #line) -> Bool {
            let mark = plain.count
            send(keys)
            return expect(text, after: mark, file: file, line: line)
        }

        /// Reads until `text` shows up after `from` in the output (escape sequences removed), or times out.
        @discardableResult
        func expect(_ text: String, after from: Int = 0, timeout: Double = 10, file: StaticString = #filePath, line: UInt = #line) -> Bool {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                pump()
                if plain.dropFirst(from).contains(text) { return true }
                usleep(20_000)
            }
            XCTFail("did not see \(text.debugDescription); screen so far:\n\(plain)", file: file, line: line)
            return false
        }

        func pump() {
            var buf = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = read(master, &buf, buf.count)
                if n <= 0 { break }
                screen += String(decoding: buf[0..<n], as: UTF8.self)
            }
        }

        /// The output with terminal control sequences removed.
        var plain: String {
            screen.replacingOccurrences(of: "\u{1B}\\[[0-9;?]*[A-Za-z]", with: "", options: .regularExpression)
                .replacingOccurrences(of: "\r", with: "")
        }

        func wait() -> Int32 {
            var status: Int32 = 0
            for _ in 0..<500 {
                pump()
                if waitpid(pid, &status, WNOHANG) == pid { return (status >> 8) & 0xff }
                usleep(20_000)
            }
            kill(pid, SIGKILL)
            return -1
        }
    }

    /// The environment of a session whose history lives in `dir`.
    func terminalEnvironment(_ dir: URL) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["XDG_STATE_HOME"] = dir.appendingPathComponent("state").path
        env["TERM"] = "xterm"
        for k in ["TERM_PROGRAM", "KITTY_WINDOW_ID", "TMUX", "DREAM_SHOW"] { env[k] = nil }   // no image protocol
        return env
    }

    /// A second Ctrl-C during work with no step boundary (one big product) does not end the session: it says
    /// that a third would, the work stops at its end, and the prompt comes back with every binding.
    func testASecondCtrlCSaysAThirdWouldEndTheSession() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let t = try PTY(args: [], env: terminalEnvironment(dir), cwd: dir.path)
        t.expect("dream> ")
        t.type("let a = randn([5000, 5000], seed: 1)\rlet keep = 41\rprint(\"ready\")\r", expecting: "ready\n")
        let mark = t.plain.count
        t.send("let c = a @ a\r")
        usleep(300_000)
        t.send("\u{03}")
        usleep(150_000)
        t.send("\u{03}")
        t.expect("Ctrl-C once more ends dream now", after: mark)
        t.expect("dream> ", after: mark)
        t.type("print(keep)\r", expecting: "41\n")
        t.send(":quit\r")
        XCTAssertEqual(t.wait(), 0)
    }

    func testInteractiveSession() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let env = terminalEnvironment(dir)
        let t = try PTY(args: [], env: env, cwd: dir.path)
        t.expect("dream> ")

        // Typing and a result.
        t.send("let abc = 41\r")
        t.type("abc + 1\r", expecting: "42")

        // Up-arrow recalls the last line.
        t.type("\u{1B}[A", expecting: "abc + 1")
        t.type("\r", expecting: "42")

        // Tab completes a function name: "softm" becomes "softmax(".
        t.type("softm\t", expecting: "softmax(")
        t.type("tensor([0, 0]))\r", expecting: "[0.5000, 0.5000]")

        // Tab completes an argument label inside a call, and a file path inside a string.
        try "x".write(toFile: dir.appendingPathComponent("reference-image.png").path, atomically: true, encoding: .utf8)
        t.type("print(randn([2], se\t", expecting: "seed:")
        t.type(" 1), \"\(dir.path)/refer\t", expecting: "reference-image.png")
        t.type("\")\r", expecting: "reference-image.png\n")

        // A multi-line expression continues with the "...>" prompt.
        t.type("let m = [1,\r", expecting: "...> ")
        t.type("2, 3]\rprint(len(m))\r", expecting: "3\n")
        // A meta-command typed under an unclosed bracket drops the unfinished statement and runs.
        t.type("let unfinished = [1,\r", expecting: "...> ")
        let helpMark = t.plain.count
        t.type(":help len\r", expecting: "the unfinished statement above was dropped")
        t.expect("len(", after: helpMark)
        t.type("print(len(m) + 1)\r", expecting: "4\n")

        // show draws half-blocks on a terminal without an image protocol: a red-over-blue 1×2 image is one
        // cell, '▀' in red on blue.
        var mark = t.screen.count
        t.send("show(reshape(tensor([1, 0, 0, 0, 0, 1]), [1, 3, 2, 1]))\r")
        t.expect("▀", after: t.plain.count)
        XCTAssertTrue(t.screen.dropFirst(mark).contains("\u{1B}[38;2;255;0;0m\u{1B}[48;2;0;0;255m▀\u{1B}[0m"), t.screen)

        // A statement typed over several lines is one history entry: one Up recalls the whole loop.
        t.type("for i in range(2) {\rprint(\"loop\", i)\r}\r", expecting: "loop 1")
        t.type("\u{1B}[A", expecting: "print(\"loop\", i)")
        t.type("\r", expecting: "loop 0\nloop 1")
        // Up searches the history by what is typed: "let ab" finds "let abc = 41", past newer entries.
        t.type("let ab\u{1B}[A", expecting: "let abc = 41")
        t.type("\u{03}", expecting: "dream> ")

        // Tab inside a string that names a sampler completes sampler names: the common part, then the list
        // (and the line shown again under it), then the one name left, closed.
        mark = t.plain.count
        t.send("print(1, sampler: \"dpm\t")
        t.expect("dpmpp_", after: mark)
        t.type("\t", expecting: "dpmpp_2m  dpmpp_2s_ancestral  dpmpp_sde")
        t.expect("dream> print(1, sampler: \"dpmpp_", after: mark)
        t.type("s\t", expecting: "sde\"")
        t.type("\u{03}", expecting: "dream> ")

        // Ctrl-C during a long computation returns to the prompt with the bindings intact.
        mark = t.plain.count
        t.send("for i in range(1000000000) { let z = abc * 2 }\r")
        usleep(800_000)
        t.send("\u{03}")
        t.expect("interrupted", after: mark)
        mark = t.plain.count
        t.send("print(abc, len(m))\r")
        t.expect("41 3", after: mark)

        t.send(":quit\r")
        XCTAssertEqual(t.wait(), 0)

        // History persists into a second session.
        let t2 = try PTY(args: [], env: env, cwd: dir.path)
        t2.expect("dream> ")
        mark = t2.plain.count
        t2.send("\u{1B}[A\u{1B}[A")
        t2.expect("print(abc, len(m))", after: mark)
        // Ctrl-C clears the recalled line; the terminal drops input typed before the new prompt, so wait for it.
        mark = t2.plain.count
        t2.send("\u{03}")
        t2.expect("dream> ", after: mark)
        // The prompt can show before the editor reads again (seen once in ~20 full runs under load): then a
        // key typed at once is dropped. A line that prints proves the editor is reading before Ctrl-D.
        for _ in 0..<10 {
            mark = t2.plain.count
            t2.send("print(6 * 7)\r")
            if t2.plain.dropFirst(mark).contains("42") { break }
            usleep(300_000)
            t2.pump()
            if t2.plain.dropFirst(mark).contains("42") { break }
        }
        XCTAssertTrue(t2.plain.contains("42"), t2.plain)
        t2.send("\u{04}")
        XCTAssertEqual(t2.wait(), 0)
        let history = try String(contentsOfFile: dir.appendingPathComponent("state/dream/history").path, encoding: .utf8)
        XCTAssertTrue(history.contains("abc"), history)
    }

    /// Ctrl-C during `learn` keeps the steps completed so far in the variable; the run saved to a file
    /// continues with `resume:`; bad input (unreadable images, too many tokens, γ < 0, unnormalised
    /// weights) gets a clear message and loses nothing already learned.
    func testLearningSurvivesCtrlCAndBadInput() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("refs"), withIntermediateDirectories: true)
        try "not an image".write(toFile: dir.appendingPathComponent("refs/broken.png").path, atomically: true, encoding: .utf8)
        let t = try PTY(args: [], env: terminalEnvironment(dir), cwd: dir.path)
        t.expect("dream> ")
        t.send("let m = model(\"builtin\")\r")
        t.send("let refs = world.render(n: 8, seed: 0, concept: world.concept(\"cones\"))\r")
        var mark = t.plain.count
        t.send("let D = learn(m, refs, steps: 100000, seed: 1)\r")
        t.expect("/100000", after: mark, timeout: 60)
        usleep(1_500_000)
        t.send("\u{03}")
        t.expect("interrupted; the distribution holds the", after: mark, timeout: 30)
        t.expect("dream> ", after: mark)
        mark = t.plain.count
        t.send("print(D.steps >= 1, D.steps < 100000, D.loss > 0)\r")
        t.expect("true true true", after: mark)

        mark = t.plain.count
        let saved = dir.appendingPathComponent("d.safetensors").path
        t.send("save(\"\(saved)\", D)\r")
        t.send("let E = learn(m, refs, steps: D.steps + 2, resume: load(\"\(saved)\"))\r")
        t.send("print(E.steps - D.steps, E.k, E.tokens)\r")
        t.expect("2 8 4", after: mark, timeout: 60)   // K 8: the built-in model's default

        for (input, message) in [("images(\"\(dir.path)/refs/*.png\")", "broken.png: not a PNG file"),
                                 ("learn(m, refs, tokens: 80)", "do not fit the 75 positions of the context"),
                                 ("sample(D, gamma: -1)", "gamma must be ≥ 0"),
                                 ("learn(m, images(\"\(dir.path)/nothing/*.png\"))", "no files match"),
                                 ("let P = mix([D, E], weights: [1, 3])", "weights sum to 4; normalised to sum to 1")] {
            mark = t.plain.count
            t.send(input + "\r")
            t.expect(message, after: mark)
        }
        mark = t.plain.count
        t.send("print(D.steps >= 1, E.steps - D.steps, type(P))\r")
        t.expect("true 2 distribution", after: mark)
        t.send(":quit\r")
        XCTAssertEqual(t.wait(), 0)
    }
}
