import Foundation
import CEditShim
import DreamLang
import DreamTensor

/// The interactive session on a terminal: libedit line editing, persistent history, Tab completion,
/// continuation lines, Ctrl-C to clear the line or stop a running job. Errors are shown and the session
/// (with all bindings) goes on.
struct REPL {
    let interp: Interpreter
    var stringChoices: (_ label: String?, _ function: String?) -> [String]? = { _, _ in nil }

    static var historyPath: String {
        let env = ProcessInfo.processInfo.environment
        let state = env["XDG_STATE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.local/state")
        return state + "/dream/history"
    }

    func run() -> Int32 {
        guard let ed = dream_editor_open("dream", stdin, stdout, stderr) else {
            FileHandle.standardError.write(Data("dream: cannot start line editing; reading plain lines\n".utf8))
            return runStream(interp, name: "<stdin>") { readLine() }
        }
        defer { dream_editor_close(ed) }
        Signals.interactive()   // a hard stop would lose every binding: it takes a deliberate third Ctrl-C
        let history = REPL.historyPath
        try? FileManager.default.createDirectory(atPath: (history as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        _ = dream_history_load(ed, history)
        // The completer crosses the C callback as its context, kept alive for the editor's lifetime.
        let completer = CompleterBox(Completer(interp: interp, stringChoices: stringChoices))
        let context = Unmanaged.passRetained(completer)
        defer { context.release() }
        dream_editor_set_completion(ed, { ctx, cLine, listed in
            guard let ctx, let cLine else { return nil }
            let completer = Unmanaged<CompleterBox>.fromOpaque(ctx).takeUnretainedValue().completer
            let (insert, list) = completer.complete(String(cString: cLine))
            if !list.isEmpty {
                listed?.pointee = 1
                print("\n" + list.joined(separator: "  "))
                fflush(stdout)
            }
            return strdup(insert)
        }, context.toOpaque())
        print("dream \(dreamVersion) — :help for functions, :quit or Ctrl-D to leave")
        var collector = ChunkCollector()
        while true {
            dream_editor_set_prompt(ed, collector.isEmpty ? "dream> " : "...> ")
            var interrupted: Int32 = 0
            guard let cLine = dream_editor_gets(ed, &interrupted) else {
                if ExecutionContext.current.takeCancelRequest() || interrupted != 0 {
                    // Ctrl-C at the prompt: drop the line (and any unfinished statement).
                    collector.discard()
                    print("")
                    continue
                }
                print("")
                return 0
            }
            let line = String(cString: cLine)
            free(cLine)
            if !collector.isEmpty, isMetaCommand(line, interp) {
                // A meta-command cannot continue a statement (`:quit` typed under an unclosed bracket): the
                // unfinished statement is dropped, as Ctrl-C would, and the command runs.
                collector.discard()
                FileHandle.standardError.write(Data("(the unfinished statement above was dropped)\n".utf8))
            }
            guard let chunk = collector.add(line, name: "<repl>") else { continue }
            // A statement over several lines is one history entry: one Up recalls all of it.
            if !chunk.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                dream_history_add(ed, chunk.text)
                _ = dream_history_save(ed, history)
            }
            _ = ExecutionContext.current.takeCancelRequest()
            do {
                try interp.run(chunk, interactive: true)
            } catch let q as QuitRequest {
                return q.status
            } catch {
                report(error)
            }
            _ = ExecutionContext.current.takeCancelRequest()
        }
    }
}

/// Whether a line is one of the session's meta-commands (`:quit`, `:help …`, or an alias).
func isMetaCommand(_ line: String, _ interp: Interpreter) -> Bool {
    let t = line.drop { $0 == " " || $0 == "\t" }
    guard t.first == ":" else { return false }
    let word = String(t.dropFirst().prefix { $0.isLetter })
    return interp.registry.metaCommand(named: word) != nil
}

/// A completer as a class, to cross libedit's completion callback as its context pointer.
final class CompleterBox {
    let completer: Completer
    init(_ c: Completer) { completer = c }
}
