/// `:help` on the language's own forms (`:help for`, `:help func`, `:help operators`), as docs/language.md
/// describes them.
enum SyntaxHelp {
    static let entries: [(topics: [String], text: String)] = [
        (["let"], "let NAME = EXPR — binds a name (rebinding is allowed). Outside functions one scope holds the whole script or session; inside a function, `let` binds locally."),
        (["for", "in"], "for NAME in EXPR { … } — loops over a list, range(n) or range(a, b, step), a dictionary's keys, or a tensor's rows. break leaves the loop, continue goes to the next item."),
        (["while"], "while COND { … } — repeats while COND is true (true/false, a non-zero number, a one-element tensor). break and continue as in for."),
        (["break", "continue"], "break leaves the innermost for or while loop; continue skips to its next iteration. Outside a loop they are errors."),
        (["if", "else"], "if COND { … } else if COND { … } else { … }"),
        (["func", "return", "functions"], "func NAME(a, b, label: default) { … return EXPR } — positional parameters first, then labelled ones with defaults (evaluated where the function is defined). Called like built-ins: NAME(1, 2, label: 3). Its own local scope; it reads global names, and a function inside another reads the enclosing one's (a closure). Recursion up to 200 calls deep. The comment lines directly above func are its :help text."),
        (["import", "modules"], "import \"PATH\" — runs another script once per session (relative to the importing file) so that its functions and bindings can be used; a cycle of imports is an error naming the files."),
        (["operators", "+", "-", "*", "/", "//", "%", "**", "@", "==", "!=", "<", "<=", ">", ">=", "&&", "||", "!"],
         "Operators, loosest first: || ; && ; == != < <= > >= (numbers; == != also strings, booleans, lists; no chaining) ; + - (numbers, tensors with broadcasting; + joins strings, lists, dictionaries) ; * / // % @ (// floor division and % its remainder, Python's signs; @ matrix product) ; unary - ! ; ** (power, right-associative)."),
        (["true", "false"], "true and false: booleans; conditions also accept numbers (non-zero is true) and one-element tensors."),
    ]

    static var topics: [String] { entries.flatMap(\.topics).filter { $0.first?.isLetter == true } }

    static func text(_ name: String) -> String? { entries.first { $0.topics.contains(name) }?.text }
}
