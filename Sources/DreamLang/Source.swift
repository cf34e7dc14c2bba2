import Foundation

/// A position in a source text, 1-based.
public struct SourceLocation: Equatable, Hashable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public init(line: Int, column: Int) { self.line = line; self.column = column }
    public var description: String { "\(line):\(column)" }
}

/// A named source text (a script, `-c` code, a REPL entry); errors quote its lines.
public final class SourceFile {
    public let name: String
    public let text: String
    public let lines: [Substring]
    /// Added to line numbers when reporting (REPL entries and streamed input count from where they began).
    public let lineOffset: Int

    public init(name: String, text: String, lineOffset: Int = 0) {
        self.name = name
        self.text = text
        self.lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        self.lineOffset = lineOffset
    }

    public func line(_ n: Int) -> String {
        n >= 1 && n <= lines.count ? String(lines[n - 1]) : ""
    }
}

/// An error of the language, always with a place: `FILE:LINE:COL: error: MESSAGE`, the line, a caret.
public struct DreamError: Error, CustomStringConvertible {
    public enum Kind { case syntax, runtime, interrupted }
    public let kind: Kind
    public let message: String
    public let location: SourceLocation
    public var file: SourceFile?
    /// A syntax error at the end of the input: more lines could complete it (REPL continuation).
    public let incomplete: Bool

    public init(_ kind: Kind, _ message: String, at location: SourceLocation, file: SourceFile? = nil, incomplete: Bool = false) {
        self.kind = kind
        self.message = message
        self.location = location
        self.file = file
        self.incomplete = incomplete
    }

    public var description: String { rendered() }

    /// The full report: header, the source line, and a caret under the column.
    public func rendered() -> String {
        let name = file?.name ?? "<input>"
        let line = location.line + (file?.lineOffset ?? 0)
        var s = "\(name):\(line):\(location.column): error: \(message)"
        if let file {
            let text = file.line(location.line)
            if !text.isEmpty {
                s += "\n" + text + "\n" + String(repeating: " ", count: max(0, location.column - 1)) + "^"
            }
        }
        return s
    }
}
