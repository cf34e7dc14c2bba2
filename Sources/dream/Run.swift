import Foundation
import DreamLang
import DreamTensor

/// Collects lines until they form complete statements (open brackets, blocks or a trailing operator
/// continue), the same way for a terminal, piped input and streamed scripts.
struct ChunkCollector {
    var lines: [String] = []
    var firstLine = 1
    var nextLine = 1

    var isEmpty: Bool { lines.isEmpty }

    /// Drops an unfinished statement (Ctrl-C), keeping the line count.
    mutating func discard() { lines = [] }

    /// Adds a line; returns the chunk when it is complete (or definitely wrong), else nil.
    mutating func add(_ line: String, name: String) -> SourceFile? {
        if lines.isEmpty { firstLine = nextLine }
        lines.append(line)
        nextLine += line.reduce(1) { $1 == "\n" ? $0 + 1 : $0 }   // a recalled entry may hold several lines
        let file = SourceFile(name: name, text: lines.joined(separator: "\n"), lineOffset: firstLine - 1)
        if lines.allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) { lines = []; return nil }
        do {
            _ = try Parser.parse(file)
        } catch let e as DreamError where e.incomplete {
            return nil
        } catch {}
        lines = []
        return file
    }

    /// What is left at end of input (an unfinished statement), to report its error.
    mutating func flush(name: String) -> SourceFile? {
        guard !lines.isEmpty else { return nil }
        defer { lines = [] }
        return SourceFile(name: name, text: lines.joined(separator: "\n"), lineOffset: firstLine - 1)
    }
}

func report(_ e: Error) {
    let text: String
    if let d = e as? DreamError { text = d.rendered() } else { text = "error: \(e)" }
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Exit status of an error: 130 for an interrupt, 1 otherwise.
func status(of e: Error) -> Int32 {
    if let d = e as? DreamError, d.kind == .interrupted { return 130 }
    return 1
}

/// Reads non-terminal input line by line (no prompt), running each complete chunk as it arrives.
/// The first error ends the run, with script exit codes.
func runStream(_ interp: Interpreter, name: String, readLine next: () -> String?) -> Int32 {
    var collector = ChunkCollector()
    while let line = next() {
        if let chunk = collector.add(line, name: name) {
            do { try interp.run(chunk) } catch let q as QuitRequest { return q.status } catch { report(error); return status(of: error) }
        }
        if interruptedAtEnd() == 130 { return 130 }
    }
    if let rest = collector.flush(name: name) {
        do { try interp.run(rest) } catch let q as QuitRequest { return q.status } catch { report(error); return status(of: error) }
    }
    return 0
}

/// 130 (and "interrupted") when Ctrl-C came during the run's last statement (a job that stopped early and
/// returned what it had), else 0.
func interruptedAtEnd() -> Int32 {
    guard ExecutionContext.current.takeCancelRequest() else { return 0 }
    FileHandle.standardError.write(Data("interrupted\n".utf8))
    return 130
}

/// Runs a whole script file: parsed first (a syntax error anywhere runs nothing), then executed.
func runFile(_ interp: Interpreter, path: String) -> Int32 {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
        FileHandle.standardError.write(Data("dream: cannot open \(path): \(FileManager.default.fileExists(atPath: path) ? "not readable as UTF-8 text" : "no such file")\n".utf8))
        return 2
    }
    do { try interp.run(SourceFile(name: path, text: text)) } catch let q as QuitRequest { return q.status } catch { report(error); return status(of: error) }
    return interruptedAtEnd()
}
