import Foundation

public enum TokenKind: Equatable {
    case number(Double)
    case string(String)
    case identifier(String)
    case keyword(String)     // Lexer.keywords
    case symbol(String)      // punctuation and operators
    case meta(String)        // a whole ":command args" line
    case newline
    case eof
}

/// The reserved words (completion offers them too).
public let languageKeywords: Set<String> = ["let", "for", "in", "while", "break", "continue", "if", "else", "true", "false",
                                            "func", "return", "import"]

public struct Token: Equatable {
    public let kind: TokenKind
    public let location: SourceLocation
}

/// Splits source text into tokens. Newlines inside ( ) and [ ] are dropped (an expression continues);
/// newlines inside { } separate statements. A line whose first non-blank character is ':' is one
/// meta-command token.
struct Lexer {
    static let keywords = languageKeywords
    static let symbols = ["**", "==", "!=", "<=", ">=", "&&", "||", "...", "//", "+", "-", "*", "/", "%", "@", "<", ">", "=", "!",
                          "(", ")", "[", "]", "{", "}", ",", ":", ";", "."]

    let file: SourceFile
    let chars: [Character]
    var i = 0, line = 1, col = 1
    var depth = 0              // open ( and [
    var atLineStart = true

    init(_ file: SourceFile) {
        self.file = file
        self.chars = Array(file.text)
    }

    func error(_ msg: String, _ loc: SourceLocation, incomplete: Bool = false) -> DreamError {
        DreamError(.syntax, msg, at: loc, file: file, incomplete: incomplete)
    }

    mutating func advance() {
        if chars[i] == "\n" { line += 1; col = 1 } else { col += 1 }
        i += 1
    }

    mutating func tokenize() throws -> [Token] {
        var out: [Token] = []
        // A first line "#!..." is a shebang.
        if chars.starts(with: ["#", "!"]) { while i < chars.count && chars[i] != "\n" { advance() } }
        while i < chars.count {
            let c = chars[i]
            let loc = SourceLocation(line: line, column: col)
            if c == "\n" {
                if depth == 0 { out.append(Token(kind: .newline, location: loc)) }
                advance(); atLineStart = true; continue
            }
            if c == " " || c == "\t" || c == "\r" { advance(); continue }
            if c == "#" { while i < chars.count && chars[i] != "\n" { advance() }; continue }
            if c == ":" && atLineStart && depth == 0 {
                var text = ""
                advance()
                while i < chars.count && chars[i] != "\n" { text.append(chars[i]); advance() }
                out.append(Token(kind: .meta(text.trimmingCharacters(in: .whitespaces)), location: loc))
                continue
            }
            atLineStart = false
            if c.isNumber || (c == "." && i + 1 < chars.count && chars[i + 1].isNumber && !(out.last.map(isValueEnd) ?? false)) {
                out.append(Token(kind: .number(try lexNumber(loc)), location: loc)); continue
            }
            if c.isLetter || c == "_" {
                var s = ""
                while i < chars.count && (chars[i].isLetter || chars[i].isNumber || chars[i] == "_") { s.append(chars[i]); advance() }
                out.append(Token(kind: Lexer.keywords.contains(s) ? .keyword(s) : .identifier(s), location: loc)); continue
            }
            if c == "\"" { out.append(Token(kind: .string(try lexString(loc)), location: loc)); continue }
            guard let sym = Lexer.symbols.first(where: { matches($0) }) else {
                throw error("unexpected character '\(c)'", loc)
            }
            for _ in sym { advance() }
            if sym == "(" || sym == "[" { depth += 1 }
            if sym == ")" || sym == "]" { depth = max(0, depth - 1) }
            out.append(Token(kind: .symbol(sym), location: loc))
        }
        out.append(Token(kind: .eof, location: SourceLocation(line: line, column: col)))
        return out
    }

    func isValueEnd(_ t: Token) -> Bool {
        switch t.kind {
        case .number, .string, .identifier: return true
        case .symbol(let s): return s == ")" || s == "]"
        default: return false
        }
    }

    func matches(_ s: String) -> Bool {
        var j = i
        for ch in s { guard j < chars.count, chars[j] == ch else { return false }; j += 1 }
        return true
    }

    mutating func lexNumber(_ loc: SourceLocation) throws -> Double {
        var s = ""
        while i < chars.count && (chars[i].isNumber || chars[i] == "_") { if chars[i] != "_" { s.append(chars[i]) }; advance() }
        if i < chars.count && chars[i] == "." && !(i + 1 < chars.count && chars[i + 1] == ".") {
            s.append("."); advance()
            while i < chars.count && chars[i].isNumber { s.append(chars[i]); advance() }
        }
        if i < chars.count && (chars[i] == "e" || chars[i] == "E") {
            var j = i + 1
            if j < chars.count && (chars[j] == "+" || chars[j] == "-") { j += 1 }
            if j < chars.count && chars[j].isNumber {
                s.append("e"); advance()
                if chars[i] == "+" || chars[i] == "-" { s.append(chars[i]); advance() }
                while i < chars.count && chars[i].isNumber { s.append(chars[i]); advance() }
            }
        }
        if i < chars.count && (chars[i].isLetter || chars[i] == "_") {
            throw error("invalid number: '\(s)\(chars[i])'", loc)
        }
        guard let v = Double(s), v.isFinite else { throw error("invalid number '\(s)'", loc) }
        return v
    }

    mutating func lexString(_ loc: SourceLocation) throws -> String {
        advance()   // opening quote
        var s = ""
        while true {
            guard i < chars.count, chars[i] != "\n" else { throw error("unterminated string", loc) }
            let c = chars[i]
            if c == "\"" { advance(); return s }
            if c == "\\" {
                let escLoc = SourceLocation(line: line, column: col)
                advance()
                guard i < chars.count else { throw error("unterminated string", loc) }
                switch chars[i] {
                case "n": s.append("\n")
                case "t": s.append("\t")
                case "\"": s.append("\"")
                case "\\": s.append("\\")
                default: throw error("unknown escape '\\\(chars[i])' (known: \\n \\t \\\" \\\\)", escLoc)
                }
                advance()
                continue
            }
            s.append(c); advance()
        }
    }
}
